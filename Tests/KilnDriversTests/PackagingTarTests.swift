import Foundation
import Testing
import KilnCore
@testable import KilnDrivers

@Suite struct PackagingTarTests {
    @Test func roundTripsThroughGNUTarInOrder() async throws {
        try await withPackagingDirectory { directory in
            let streamed = Data((0..<(3 * 512 + 77)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            let source = directory + "/source.bin"
            try streamed.write(to: URL(fileURLWithPath: source))
            let archive = directory + "/test.tar"
            let tar = try TarWriter(path: archive, mtime: 1_700_000_000)
            try tar.add(name: "first.ovf", data: Data("<Envelope/>\n".utf8))
            try tar.add(name: "empty.mf", data: Data())
            var progress: [UInt64] = []
            try tar.add(name: "disk.vmdk", file: source, copied: { progress.append($0) })
            try tar.finish()

            #expect(try await tarMembers(archive) == ["first.ovf", "empty.mf", "disk.vmdk"])
            let size = try FileDigest.size(path: archive)
            // 3 headers, 1 + 0 + 4 data blocks, 2 end blocks
            #expect(size == UInt64((3 + 5 + 2) * 512))
            #expect(progress.last == UInt64(streamed.count))

            let out = directory + "/out"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try await packagingRun("tar", ["-xf", archive, "-C", out])
            #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/first.ovf")) == Data("<Envelope/>\n".utf8))
            #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/empty.mf")).isEmpty)
            #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/disk.vmdk")) == streamed)
            let listing = try await packagingRun("tar", ["--utc", "-tvf", archive])
            #expect(listing.split(separator: "\n").allSatisfy { $0.hasPrefix("-rw-r--r-- root/root") })
            #expect(listing.contains("2023-11-14 22:13 first.ovf"))
        }
    }

    @Test func headerIsUstarWithValidChecksum() throws {
        let header = try TarHeader.make(name: "box.img", size: 1000, mtime: 0)
        #expect(header.count == 512)
        #expect(Array(header[257..<263]) == Array("ustar\0".utf8))
        #expect(Array(header[124..<136]) == Array("00000001750\0".utf8))
        let stored = Int(String(decoding: header[148..<154], as: UTF8.self), radix: 8)
        var blank = header
        blank.replaceSubrange(148..<156, with: Array(repeating: 0x20, count: 8))
        #expect(stored == blank.reduce(0) { $0 + Int($1) })
    }

    @Test func sizesBeyondEightGiBUseBase256() {
        #expect(TarHeader.sizeField(TarHeader.largestOctalSize) == Array("77777777777\0".utf8))
        let nine: UInt64 = 9 << 30
        #expect(TarHeader.sizeField(nine) == [0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x40, 0, 0, 0])
    }

    @Test func refusesNamesUstarCannotHold() {
        #expect(throws: KilnError.self) { try TarHeader.make(name: String(repeating: "a", count: 101), size: 0, mtime: 0) }
        #expect(throws: KilnError.self) { try TarHeader.make(name: "dir/file", size: 0, mtime: 0) }
        #expect(throws: KilnError.self) { try TarHeader.make(name: "", size: 0, mtime: 0) }
    }

    @Test func paddingFillsTheLastBlock() {
        #expect(TarHeader.padding(for: 0) == 0)
        #expect(TarHeader.padding(for: 512) == 0)
        #expect(TarHeader.padding(for: 513) == 511)
        #expect(TarHeader.padding(for: 77) == 435)
    }
}
