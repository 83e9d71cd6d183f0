import Foundation
import KilnCore
import KilnTemplate
import Testing
@testable import KilnDrivers

@Suite("Base image cache inventory")
struct BaseImageCacheInventoryTests {
    /// A cache with one download (used 10 days ago), one bootstrap (used now) and a leftover.
    func makeCache(_ dir: BaseImageTempDir) throws -> CacheDirectory {
        let cache = CacheDirectory(dir.file("cache"))
        let download = cache.downloadEntry(forURL: "http://127.0.0.1/old.qcow2")
        let bootstrap = cache.bootstrapEntry(forKey: "k1")
        for entry in [download, bootstrap, cache.bootstraps + "/.tmp-k2-999999"] {
            try FileManager.default.createDirectory(atPath: entry, withIntermediateDirectories: true)
            try Data(count: 8192).write(to: URL(fileURLWithPath: entry + "/disk.qcow2"))
        }
        let old = Date().addingTimeInterval(-10 * 86400)
        try CacheMetadata(kind: .download, origin: "http://127.0.0.1/old.qcow2", imageFile: "disk.qcow2", format: "qcow2",
                          createdAt: old, lastUsed: old).write(to: download)
        try CacheMetadata(kind: .bootstrap, origin: "debian/bookworm (grub, 2048 MiB)", imageFile: "disk.qcow2", format: "qcow2",
                          createdAt: Date(), lastUsed: Date()).write(to: bootstrap)
        return cache
    }

    @Test func listShowsEntriesWithSizesAndUse() throws {
        let dir = try BaseImageTempDir()
        let cache = try makeCache(dir)
        let entries = CacheInventory(cacheDirectory: cache.root).list()
        #expect(entries.count == 3)
        let download = try #require(entries.first { $0.kind == .download })
        #expect(download.origin == "http://127.0.0.1/old.qcow2")
        #expect(download.sizeOnDisk >= 8192)
        #expect(download.complete && !download.inUse)
        let bootstrap = try #require(entries.first { $0.kind == .bootstrap && $0.complete })
        #expect(bootstrap.origin == "bootstrap debian/bookworm (grub, 2048 MiB)")
        #expect(entries.contains { $0.kind == .bootstrap && !$0.complete })
    }

    @Test func pruneOlderThanRemovesStaleAndIncompleteEntries() throws {
        let dir = try BaseImageTempDir()
        let cache = try makeCache(dir)
        let inventory = CacheInventory(cacheDirectory: cache.root)
        let removed = inventory.prune(olderThan: .seconds(86400), all: false)
        #expect(Set(removed.map(\.origin)) == ["http://127.0.0.1/old.qcow2", "(incomplete bootstrap)"])
        #expect(inventory.list().map(\.origin) == ["bootstrap debian/bookworm (grub, 2048 MiB)"])
    }

    @Test func pruneAllSparesEntriesInUse() async throws {
        let dir = try BaseImageTempDir()
        let cache = try makeCache(dir)
        let held = try await FileLock.acquire(cache.bootstraps + "/k1" + CacheEntryFiles.lock)
        defer { held.unlock() }
        let inventory = CacheInventory(cacheDirectory: cache.root)
        #expect(inventory.list().first { $0.path.hasSuffix("/k1") }?.inUse == true)
        let removed = inventory.prune(olderThan: nil, all: true)
        #expect(removed.count == 2)
        #expect(inventory.list().map(\.path) == [cache.bootstrapEntry(forKey: "k1")])
    }

    @Test func emptyOrMissingCacheListsNothing() {
        #expect(CacheInventory(cacheDirectory: NSTemporaryDirectory() + "kiln-no-cache-\(UUID().uuidString)").list().isEmpty)
    }
}
