import Foundation
import KilnCore

/// The step cache on disk: `layers/<key>.qcow2` (a qcow2 layer whose backing file is its parent
/// layer or the base image) and `layers/<key>.json`. Layers are written under a temporary name and
/// published with link(2), which fails if the key exists: a stored layer is never replaced, so a
/// child layer always sits on exactly the content it was made on.
public struct StepLayerStore: LayerCache {
    public let directory: String
    /// After a store, least recently used layers go until the cache fits (nil: no limit).
    public var maximumBytes: UInt64?

    public init(cache: CacheDirectory = CacheDirectory(), maximumBytes: UInt64? = StepLayerStore.defaultLimit()) {
        directory = cache.root + "/layers"
        self.maximumBytes = maximumBytes
    }

    /// `KILN_STEP_CACHE_MAX` in bytes or with a unit (20G, 500M); 0 or unset: 20 GiB.
    public static func defaultLimit(environment: [String: String] = ProcessInfo.processInfo.environment) -> UInt64? {
        guard let text = environment["KILN_STEP_CACHE_MAX"], !text.isEmpty else { return 20 << 30 }
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        if let unit = text.uppercased().last, let scale = units[unit], let value = UInt64(text.dropLast()) {
            return value * scale
        }
        return UInt64(text).map { $0 == 0 ? nil : $0 } ?? (20 << 30)
    }

    func imagePath(_ key: String) -> String { "\(directory)/\(key).qcow2" }
    func metadataPath(_ key: String) -> String { "\(directory)/\(key).json" }

    public func lookup(_ key: String) async -> CachedLayer? {
        guard let chain = chain(from: key), let hold = LayerHold.take(chain.map { imagePath($0.key) }) else { return nil }
        // The backing file at the bottom (the base image) must still be there.
        guard let bottom = chain.last, FileManager.default.fileExists(atPath: bottom.backing) else {
            hold.release()
            return nil
        }
        let now = Date()
        for layer in chain { try? FileManager.default.setAttributes([.modificationDate: now], ofItemAtPath: metadataPath(layer.key)) }
        return CachedLayer(key: key, path: imagePath(key), size: DiskUsage.of(imagePath(key)),
                           description: chain[0].description, release: { hold.release() })
    }

    public func store(_ image: String, key: String, parent: CachedLayer?, base: ResolvedBase,
                      description: String) async throws -> CachedLayer? {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = "\(directory)/.tmp-\(key)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).qcow2"
        defer { unlink(temporary) }
        let backing = parent?.path ?? base.path
        try await Subprocess.run("cp", ["--sparse=always", image, temporary])
        try await Subprocess.run("qemu-img", ["rebase", "-u", "-f", "qcow2", "-b", backing,
                                              "-F", parent == nil ? base.format : "qcow2", temporary])
        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        guard fd >= 0, let hold = LayerHold.take(descriptor: fd) else {
            if fd >= 0 { close(fd) }
            throw KilnError(.internal, "cannot open the new layer \(temporary): \(String(cString: strerror(errno)))")
        }
        let metadata = LayerMetadata(key: key, parent: parent?.key, backing: backing, description: description, created: Date())
        try metadata.write(to: metadataPath(key) + ".new-\(getpid())")
        guard link(temporary, imagePath(key)) == 0 else {
            let error = errno
            unlink(metadataPath(key) + ".new-\(getpid())")
            hold.release()
            if error == EEXIST { return nil }
            throw KilnError(.internal, "cannot store layer \(imagePath(key)): \(String(cString: strerror(error)))")
        }
        rename(metadataPath(key) + ".new-\(getpid())", metadataPath(key))
        let layer = CachedLayer(key: key, path: imagePath(key), size: DiskUsage.of(imagePath(key)),
                                description: description, release: { hold.release() })
        if let maximumBytes { StepLayerInventory(store: self).prune(toFit: maximumBytes) }
        return layer
    }

    /// The layer and its ancestors, child first; nil when any piece is missing.
    func chain(from key: String) -> [LayerMetadata]? {
        var chain: [LayerMetadata] = []
        var next: String? = key
        while let current = next {
            guard chain.count < 10_000, FileManager.default.fileExists(atPath: imagePath(current)),
                  let metadata = LayerMetadata.read(metadataPath(current)) else { return nil }
            chain.append(metadata)
            next = metadata.parent
        }
        return chain
    }
}
