import Foundation
import KilnCore

/// One layer of the step cache, as `kiln cache list` shows it.
public struct LayerEntry: Sendable, Equatable {
    public var key: String
    public var parent: String?
    public var description: String
    public var size: UInt64
    public var lastUsed: Date
    public var inUse: Bool
    /// Its parent layer or base image is gone: it can never be used again.
    public var broken: Bool
}

/// Lists and prunes the step cache. A layer goes together with every layer built on it, and
/// only when none of them is held by a running build.
public struct StepLayerInventory: Sendable {
    let store: StepLayerStore

    public init(store: StepLayerStore = StepLayerStore()) { self.store = store }

    public func list() -> [LayerEntry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: store.directory)) ?? []
        let metadata = names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
            .compactMap { LayerMetadata.read(store.directory + "/" + $0) }
        let keys = Set(metadata.map(\.key))
        return metadata.map { layer in
            let image = store.imagePath(layer.key)
            let attributes = try? FileManager.default.attributesOfItem(atPath: store.metadataPath(layer.key))
            let broken = !FileManager.default.fileExists(atPath: image)
                || (layer.parent.map { !keys.contains($0) } ?? !FileManager.default.fileExists(atPath: layer.backing))
            return LayerEntry(key: layer.key, parent: layer.parent, description: layer.description,
                              size: DiskUsage.of(image), lastUsed: attributes?[.modificationDate] as? Date ?? layer.created,
                              inUse: isHeld(image), broken: broken)
        }.sorted { $0.lastUsed > $1.lastUsed }
    }

    /// Removes broken layers always, and those last used before `olderThan` ago (or all with `all`).
    @discardableResult
    public func prune(olderThan: Duration?, all: Bool) -> [LayerEntry] {
        removeAbandonedTemporaries()
        let cutoff = olderThan.map { Date().addingTimeInterval(-$0.seconds) }
        return remove { entry in all || entry.broken || cutoff.map { entry.lastUsed < $0 } ?? false }
    }

    /// Least recently used first, until the layers take at most `bytes`.
    @discardableResult
    public func prune(toFit bytes: UInt64) -> [LayerEntry] {
        var total = list().reduce(UInt64(0)) { $0 + $1.size }
        guard total > bytes else { return [] }
        var removed: [LayerEntry] = []
        for entry in list().reversed() where total > bytes {
            let gone = remove { $0.key == entry.key }
            total -= min(total, gone.reduce(UInt64(0)) { $0 + $1.size })
            removed += gone
        }
        return removed
    }

    /// Removes each selected layer with its descendants, unless one of them is held.
    private func remove(where selected: (LayerEntry) -> Bool) -> [LayerEntry] {
        let entries = list()
        var children: [String: [LayerEntry]] = [:]
        for entry in entries { if let parent = entry.parent { children[parent, default: []].append(entry) } }
        var removed: [LayerEntry] = []
        var gone = Set<String>()
        for entry in entries.reversed() where selected(entry) && !gone.contains(entry.key) {
            var subtree: [LayerEntry] = []
            var queue = [entry]
            while let next = queue.popLast() {
                subtree.append(next)
                queue += children[next.key] ?? []
            }
            guard !subtree.contains(where: \.inUse) else { continue }
            // Children before parents, each under an exclusive lock so a build cannot take it meanwhile.
            for layer in subtree.reversed() where !gone.contains(layer.key) {
                let image = store.imagePath(layer.key)
                let fd = LayerHold.exclusive(image)
                if FileManager.default.fileExists(atPath: image), fd == nil { break }
                unlink(store.metadataPath(layer.key))
                unlink(image)
                if let fd { close(fd) }
                gone.insert(layer.key)
                removed.append(layer)
            }
        }
        return removed
    }

    /// `.tmp-<key>-<pid>-<n>.qcow2` and `<key>.json.new-<pid>` of stores whose process is gone (killed mid-store).
    func removeAbandonedTemporaries() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: store.directory)) ?? [] {
            let pid: Int32?
            if name.hasPrefix(".tmp-") {
                let parts = name.dropFirst(5).split(separator: "-")
                pid = parts.count >= 3 ? Int32(parts[parts.count - 2]) : nil
            } else if let range = name.range(of: ".json.new-") {
                pid = Int32(name[range.upperBound...])
            } else {
                continue
            }
            guard let pid, kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink(store.directory + "/" + name)
        }
    }

    private func isHeld(_ path: String) -> Bool {
        guard let fd = LayerHold.exclusive(path) else { return FileManager.default.fileExists(atPath: path) }
        close(fd)
        return false
    }
}
