import Foundation
import KilnCore
import KilnTemplate
import Testing
@testable import KilnDrivers

@Suite("Local base images")
struct BaseImageLocalTests {
    let store = BaseImageStore(cacheDirectory: NSTemporaryDirectory() + "kiln-unused-cache")

    @Test(arguments: [("qcow2", "qcow2", [String]()), ("vmdk", "vmdk", []), ("vdi", "vdi", []),
                      ("vpc", "vpc", []), ("vhdx", "vhdx", []), ("raw", "raw", []),
                      ("vpc", "vpc", ["-o", "subformat=fixed"])])
    func formatIsDetectedFromContent(outputFormat: String, expected: String, options: [String]) async throws {
        let dir = try BaseImageTempDir()
        let raw = dir.file("source.raw")
        try await BaseImageFixtures.rawDisk(at: raw)
        // A misleading name: the format must come from the content.
        let image = dir.file("image.img")
        try await Subprocess.run("qemu-img", ["convert", "-f", "raw", "-O", outputFormat] + options + [raw, image])
        let before = try await BaseImageFixtures.sha256(image)
        let base = try await store.resolve(.image(path: image), build: "t", events: NullEventSink())
        #expect(base.format == expected)
        #expect(base.path == image)
        #expect(base.virtualSize >= 4 << 20)
        #expect(try await BaseImageFixtures.sha256(image) == before)
    }

    @Test func imageWithABackingFileResolves() async throws {
        let dir = try BaseImageTempDir()
        try await BaseImageFixtures.qcow2(at: dir.file("base.qcow2"), work: dir.path)
        try await Subprocess.run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", dir.file("base.qcow2"), dir.file("top.qcow2")])
        let base = try await store.resolve(.image(path: dir.file("top.qcow2")), build: "t", events: NullEventSink())
        #expect(base.format == "qcow2")
    }

    @Test func textFileIsRejected() async throws {
        let dir = try BaseImageTempDir()
        let text = try dir.write("notes.qcow2", "this is not a disk image\n")
        let error = await #expect(throws: KilnError.self) {
            try await store.resolve(.image(path: text), build: "t", events: NullEventSink())
        }
        #expect(error?.code == .baseImage)
        #expect(error?.message.contains(text) == true)
        #expect(error?.message.contains("not a disk image") == true)
    }

    @Test func largeRawFileWithoutPartitionTableIsRejected() async throws {
        let dir = try BaseImageTempDir()
        try await Subprocess.run("truncate", ["-s", "2M", dir.file("blank.raw")])
        let error = await #expect(throws: KilnError.self) {
            try await store.resolve(.image(path: dir.file("blank.raw")), build: "t", events: NullEventSink())
        }
        #expect(error?.message.contains("MBR or GPT") == true)
    }

    @Test func gptDiskIsAccepted() async throws {
        let dir = try BaseImageTempDir()
        let disk = dir.file("gpt.raw")
        try await Subprocess.run("truncate", ["-s", "4M", disk])
        try await Subprocess.run("sfdisk", ["-q", disk], stdin: Data("label: gpt\nstart=2048, size=2048\n".utf8))
        let base = try await store.resolve(.image(path: disk), build: "t", events: NullEventSink())
        #expect(base.format == "raw")
    }

    @Test func missingImageIsNamed() async throws {
        let path = NSTemporaryDirectory() + "kiln-no-such-\(UUID().uuidString).qcow2"
        let error = await #expect(throws: KilnError.self) {
            try await store.resolve(.image(path: path), build: "t", events: NullEventSink())
        }
        #expect(error?.code == .baseImage)
        #expect(error?.message.contains(path) == true)
    }

    @Test func directoryIsRejected() async throws {
        let dir = try BaseImageTempDir()
        await #expect(throws: KilnError.self) {
            try await store.resolve(.image(path: dir.path), build: "t", events: NullEventSink())
        }
    }
}
