import Foundation
import KilnCore
import KilnTemplate
import Testing
@testable import KilnDrivers

@Suite("Base image downloads")
struct BaseImageDownloadTests {
    /// A served qcow2 and a store with its own cache.
    struct Fixture {
        let dir: BaseImageTempDir
        let served: String
        let server: BaseImageHTTPServer
        let store: BaseImageStore

        init() async throws {
            dir = try BaseImageTempDir()
            served = dir.file("www")
            try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
            try await BaseImageFixtures.qcow2(at: served + "/disk.qcow2", work: dir.path)
            server = try BaseImageHTTPServer(serving: served)
            store = BaseImageStore(cacheDirectory: dir.file("cache"))
        }

        var image: String { served + "/disk.qcow2" }

        /// No temp or partial file anywhere in the cache.
        func leftovers() -> [String] {
            let all = FileManager.default.enumerator(atPath: dir.file("cache"))?.allObjects as? [String] ?? []
            return all.filter { ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") }
        }
    }

    @Test func checksumMatchDownloadsVerifiesAndReportsProgress() async throws {
        let f = try await Fixture()
        let sum = try await BaseImageFixtures.sha256(f.image)
        let log = BaseImageEventLog()
        let base = try await f.store.resolve(.url(URLSource(url: f.server.url("disk.qcow2"), checksum: .value(.sha256, hex: sum.uppercased()))),
                                             build: "t", events: log)
        #expect(base.format == "qcow2")
        #expect(base.virtualSize == 4 << 20)
        #expect(base.path.hasPrefix(f.dir.file("cache") + "/downloads/"))
        #expect(!base.cacheHit)
        #expect(FileManager.default.contentsEqual(atPath: base.path, andPath: f.image))
        let size = (try FileManager.default.attributesOfItem(atPath: f.image)[.size] as! NSNumber).uint64Value
        #expect(log.progressEvents.last?.done == size)
        #expect(log.progressEvents.last?.total == size)
        let metadata = try #require(CacheMetadata.read(from: (base.path as NSString).deletingLastPathComponent))
        #expect(metadata.checksum == "sha256:" + sum)
    }

    @Test func sha512ChecksumIsSupported() async throws {
        let f = try await Fixture()
        let sum = try await BaseImageFixtures.sha512(f.image)
        let base = try await f.store.resolve(.url(URLSource(url: f.server.url("disk.qcow2"), checksum: .value(.sha512, hex: sum))),
                                             build: "t", events: NullEventSink())
        #expect(base.format == "qcow2")
    }

    @Test func checksumMismatchDeletesTheDownloadAndNamesBothSums() async throws {
        let f = try await Fixture()
        let actual = try await BaseImageFixtures.sha256(f.image)
        let wrong = String(repeating: "ab", count: 32)
        let error = await #expect(throws: KilnError.self) {
            try await f.store.resolve(.url(URLSource(url: f.server.url("disk.qcow2"), checksum: .value(.sha256, hex: wrong))),
                                      build: "t", events: NullEventSink())
        }
        #expect(error?.code == .baseImage)
        #expect(error?.message.contains(wrong) == true)
        #expect(error?.message.contains(actual) == true)
        #expect(f.leftovers().isEmpty)
        let entry = CacheDirectory(f.dir.file("cache")).downloadEntry(forURL: f.server.url("disk.qcow2"))
        #expect(!FileManager.default.fileExists(atPath: entry + "/disk.qcow2"))
    }

    @Test func secondResolveIsACacheHitWithoutARequest() async throws {
        let f = try await Fixture()
        let sum = try await BaseImageFixtures.sha256(f.image)
        let source = SourceSpec.url(URLSource(url: f.server.url("disk.qcow2"), checksum: .value(.sha256, hex: sum)))
        let first = try await f.store.resolve(source, build: "t", events: NullEventSink())
        let second = try await f.store.resolve(source, build: "t", events: NullEventSink())
        #expect(!first.cacheHit)
        #expect(second.cacheHit)
        #expect(second.path == first.path)
        #expect(try await f.server.requestCount("disk.qcow2") == 1)
    }

    @Test func concurrentResolvesOfOneURLDownloadOnce() async throws {
        let f = try await Fixture()
        let sum = try await BaseImageFixtures.sha256(f.image)
        let source = SourceSpec.url(URLSource(url: f.server.url("slow/disk.qcow2"), checksum: .value(.sha256, hex: sum)))
        // Two stores, as two processes would have: only the flock coordinates them.
        let a = BaseImageStore(cacheDirectory: f.dir.file("cache")), b = BaseImageStore(cacheDirectory: f.dir.file("cache"))
        async let first = a.resolve(source, build: "a", events: NullEventSink())
        async let second = b.resolve(source, build: "b", events: NullEventSink())
        let results = try await [first, second]
        #expect(results[0].path == results[1].path)
        #expect(results.filter(\.cacheHit).count == 1)
        #expect(try await f.server.requestCount("slow/disk.qcow2") == 1)
        #expect(FileManager.default.contentsEqual(atPath: results[0].path, andPath: f.image))
    }

    @Test func truncatedDownloadFailsAndLeavesNothing() async throws {
        let f = try await Fixture()
        let error = await #expect(throws: KilnError.self) {
            try await f.store.resolve(.url(URLSource(url: f.server.url("truncate/disk.qcow2"), checksum: .none)),
                                      build: "t", events: NullEventSink())
        }
        #expect(error?.code == .baseImage)
        #expect(error?.message.contains("cut short") == true, "\(error?.message ?? "")")
        #expect(f.leftovers().isEmpty)
        let entry = CacheDirectory(f.dir.file("cache")).downloadEntry(forURL: f.server.url("truncate/disk.qcow2"))
        #expect(CacheMetadata.read(from: entry) == nil)
    }

    @Test func unreachableURLFailsClearly() async throws {
        let f = try await Fixture()
        // A port nobody listens on: bind one, note it, close it.
        let port = try Self.closedPort()
        let error = await #expect(throws: KilnError.self) {
            try await f.store.resolve(.url(URLSource(url: "http://127.0.0.1:\(port)/disk.qcow2", checksum: .none)),
                                      build: "t", events: NullEventSink())
        }
        #expect(error?.code == .baseImage)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)
        #expect(f.leftovers().isEmpty)
    }

    @Test func missingFileOnServerIsAnHTTPError() async throws {
        let f = try await Fixture()
        let error = await #expect(throws: KilnError.self) {
            try await f.store.resolve(.url(URLSource(url: f.server.url("nope.qcow2"), checksum: .none)),
                                      build: "t", events: NullEventSink())
        }
        #expect(error?.message.contains("404") == true)
        #expect(f.leftovers().isEmpty)
    }

    @Test func fileURLIsCopiedAndVerified() async throws {
        let f = try await Fixture()
        let sum = try await BaseImageFixtures.sha256(f.image)
        let base = try await f.store.resolve(.url(URLSource(url: URL(fileURLWithPath: f.image).absoluteString,
                                                            checksum: .value(.sha256, hex: sum))),
                                             build: "t", events: NullEventSink())
        #expect(base.format == "qcow2")
        #expect(base.path != f.image)
        #expect(FileManager.default.contentsEqual(atPath: base.path, andPath: f.image))
    }

    @Test(arguments: ["gnu", "gnu-binary", "bsd"])
    func sumsFileFindsTheImagesLine(style: String) async throws {
        let f = try await Fixture()
        let sum = try await BaseImageFixtures.sha256(f.image)
        let line: String
        switch style {
        case "gnu": line = "\(sum)  disk.qcow2"
        case "gnu-binary": line = "\(sum) *disk.qcow2"
        default: line = "SHA256 (disk.qcow2) = \(sum)"
        }
        let other = String(repeating: "0", count: 64)
        _ = try f.dir.write("www/SHA256SUMS", "\(other)  other.qcow2\n\(line)\n")
        let base = try await f.store.resolve(.url(URLSource(url: f.server.url("disk.qcow2"), checksum: .file(url: f.server.url("SHA256SUMS")))),
                                             build: "t", events: NullEventSink())
        #expect(base.format == "qcow2")
    }

    @Test func sumsFileWithoutTheImageFails() async throws {
        let f = try await Fixture()
        _ = try f.dir.write("www/SHA256SUMS", "\(String(repeating: "0", count: 64))  other.qcow2\n")
        let error = await #expect(throws: KilnError.self) {
            try await f.store.resolve(.url(URLSource(url: f.server.url("disk.qcow2"), checksum: .file(url: f.server.url("SHA256SUMS")))),
                                      build: "t", events: NullEventSink())
        }
        #expect(error?.message.contains("disk.qcow2") == true)
    }

    @Test(arguments: ["gz", "xz"])
    func compressedImagesAreDecompressedAfterVerification(compression: String) async throws {
        let f = try await Fixture()
        let tool = compression == "xz" ? "xz" : "gzip"
        try await Subprocess.run("sh", ["-c", "\(tool) -c \"$0\" > \"$0.\(compression)\"", f.image])
        let sum = try await BaseImageFixtures.sha256(f.image + "." + compression)
        let base = try await f.store.resolve(.url(URLSource(url: f.server.url("disk.qcow2.\(compression)"), checksum: .value(.sha256, hex: sum))),
                                             build: "t", events: NullEventSink())
        #expect(base.format == "qcow2")
        #expect(base.path.hasSuffix("/disk.qcow2"))
        #expect(FileManager.default.contentsEqual(atPath: base.path, andPath: f.image))
        let again = try await f.store.resolve(.url(URLSource(url: f.server.url("disk.qcow2.\(compression)"), checksum: .value(.sha256, hex: sum))),
                                              build: "t", events: NullEventSink())
        #expect(again.cacheHit)
        #expect(f.leftovers().isEmpty)
    }

    @Test func cancellationRemovesTheTemporaryFile() async throws {
        let f = try await Fixture()
        // A bigger file served slowly, so that the download is still running when cancelled.
        try await Subprocess.run("sh", ["-c", "head -c 8000000 /dev/urandom > \"$0\"", f.served + "/big.raw"])
        let store = f.store, url = f.server.url("slow/big.raw")
        let task = Task { try await store.resolve(.url(URLSource(url: url, checksum: .none)), build: "t", events: NullEventSink()) }
        let entry = CacheDirectory(f.dir.file("cache")).downloadEntry(forURL: url)
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: entry + "/.tmp-big.raw") {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(FileManager.default.fileExists(atPath: entry + "/.tmp-big.raw"))
        task.cancel()
        let result = await task.result
        #expect(throws: (any Error).self) { try result.get() }
        #expect(f.leftovers().isEmpty)
    }

    @Test func unsupportedSchemeIsRejected() async throws {
        let f = try await Fixture()
        await #expect(throws: KilnError.self) {
            try await f.store.resolve(.url(URLSource(url: "ftp://127.0.0.1/x.qcow2", checksum: .none)), build: "t", events: NullEventSink())
        }
    }

    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(fd, raw, length) == 0, getsockname(fd, raw, &length) == 0 else {
                    throw KilnError(.internal, "cannot bind a test socket")
                }
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
