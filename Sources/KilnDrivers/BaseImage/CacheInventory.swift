import Foundation
import KilnCore

/// One cached base image, as `kiln cache list` shows it.
public struct CacheEntry: Sendable, Equatable {
    public enum Kind: String, Sendable { case download, bootstrap, layer }

    public var kind: Kind
    /// The entry's directory.
    public var path: String
    /// The URL, or the bootstrap recipe summary; "(incomplete)" for leftovers of an interrupted build.
    public var origin: String
    /// Bytes allocated on disk (sparse files count what they use).
    public var sizeOnDisk: UInt64
    public var lastUsed: Date?
    /// A running build holds the entry's lock.
    public var inUse: Bool
    /// False for leftovers (no metadata: an interrupted download or bootstrap).
    public var complete: Bool
}

/// Lists and prunes the base image cache (`kiln cache list|prune`).
public struct CacheInventory: Sendable {
    public let cache: CacheDirectory

    public init(cacheDirectory: String? = nil) {
        cache = CacheDirectory(cacheDirectory)
    }

    public func list() -> [CacheEntry] {
        (downloadEntries() + bootstrapEntries() + layerEntries()).sorted { ($0.lastUsed ?? .distantPast) > ($1.lastUsed ?? .distantPast) }
    }

    /// Removes entries no running build holds: all of them (`all`), those last used before
    /// `olderThan` ago, and always incomplete leftovers. Returns what was removed.
    @discardableResult
    public func prune(olderThan: Duration?, all: Bool) -> [CacheEntry] {
        let cutoff = olderThan.map { Date().addingTimeInterval(-$0.seconds) }
        var removed: [CacheEntry] = []
        removed += layers.prune(olderThan: olderThan, all: all).map(Self.entry)
        for entry in list() where !entry.inUse && entry.kind != .layer {
            let stale = all || !entry.complete || cutoff.map { (entry.lastUsed ?? .distantPast) < $0 } ?? false
            guard stale, let lock = FileLock.tryAcquire(lockPath(of: entry)) else { continue }
            defer { lock.unlock() }
            if (try? FileManager.default.removeItem(atPath: entry.path)) != nil {
                if entry.kind == .bootstrap { try? FileManager.default.removeItem(atPath: lockPath(of: entry)) }
                removed.append(entry)
            }
        }
        return removed
    }

    private var layers: StepLayerInventory { StepLayerInventory(store: StepLayerStore(cache: cache, maximumBytes: nil)) }

    private func layerEntries() -> [CacheEntry] { layers.list().map(Self.entry) }

    private static func entry(_ layer: LayerEntry) -> CacheEntry {
        CacheEntry(kind: .layer, path: layer.key, origin: "step " + layer.description + (layer.broken ? " [broken]" : ""),
                   sizeOnDisk: layer.size, lastUsed: layer.lastUsed, inUse: layer.inUse, complete: !layer.broken)
    }

    private func downloadEntries() -> [CacheEntry] {
        subdirectories(of: cache.downloads).map { directory in
            let metadata = CacheMetadata.read(from: directory)
            return CacheEntry(kind: .download, path: directory, origin: metadata?.origin ?? "(incomplete download)",
                              sizeOnDisk: DiskUsage.of(directory), lastUsed: metadata?.lastUsed ?? modificationDate(directory),
                              inUse: FileLock.isHeld(directory + "/" + CacheEntryFiles.lock), complete: metadata != nil)
        }
    }

    private func bootstrapEntries() -> [CacheEntry] {
        subdirectories(of: cache.bootstraps).map { directory in
            let name = (directory as NSString).lastPathComponent
            let metadata = name.hasPrefix(CacheEntryFiles.temporaryPrefix) ? nil : CacheMetadata.read(from: directory)
            return CacheEntry(kind: .bootstrap, path: directory, origin: metadata.map { "bootstrap " + $0.origin } ?? "(incomplete bootstrap)",
                              sizeOnDisk: DiskUsage.of(directory), lastUsed: metadata?.lastUsed ?? modificationDate(directory),
                              inUse: FileLock.isHeld(bootstrapLock(forDirectoryNamed: name)), complete: metadata != nil)
        }
    }

    private func lockPath(of entry: CacheEntry) -> String {
        switch entry.kind {
        case .download: return entry.path + "/" + CacheEntryFiles.lock
        case .bootstrap: return bootstrapLock(forDirectoryNamed: (entry.path as NSString).lastPathComponent)
        case .layer: return cache.root + "/layers/" + entry.path + ".qcow2"
        }
    }

    /// `bootstrap/<key>.lock` guards both `<key>/` and its temp dir `.tmp-<key>-<pid>/`.
    private func bootstrapLock(forDirectoryNamed name: String) -> String {
        var key = name
        if key.hasPrefix(CacheEntryFiles.temporaryPrefix) {
            key = String(key.dropFirst(CacheEntryFiles.temporaryPrefix.count))
            if let dash = key.lastIndex(of: "-") { key = String(key[..<dash]) }
        }
        return cache.bootstraps + "/" + key + CacheEntryFiles.lock
    }

    private func subdirectories(of path: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { path + "/" + $0 }.filter { candidate in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory) && isDirectory.boolValue
        }
    }

    private func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}

/// Allocated bytes of a directory tree (`du`-like; sparse images count what they use).
enum DiskUsage {
    static func of(_ path: String) -> UInt64 {
        var total: UInt64 = 0
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        total += UInt64(info.st_blocks) * 512
        guard (info.st_mode & S_IFMT) == S_IFDIR else { return total }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            total += of(path + "/" + name)
        }
        return total
    }
}
