import Foundation

/// Shared `flock`s on the layer files a build builds on. Pruning takes an exclusive lock on a
/// layer before removing it, so a held layer (and every parent in its chain) stays.
final class LayerHold: @unchecked Sendable {
    private let lock = NSLock()
    private var descriptors: [Int32]

    private init(_ descriptors: [Int32]) { self.descriptors = descriptors }

    /// Holds every file, or none (nil) when one is missing or being removed.
    static func take(_ paths: [String]) -> LayerHold? {
        var taken: [Int32] = []
        for path in paths {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0, flock(fd, LOCK_SH | LOCK_NB) == 0 else {
                if fd >= 0 { close(fd) }
                taken.forEach { close($0) }
                return nil
            }
            taken.append(fd)
        }
        return LayerHold(taken)
    }

    /// Holds an open file (the new layer, before it gets its name).
    static func take(descriptor fd: Int32) -> LayerHold? {
        flock(fd, LOCK_SH | LOCK_NB) == 0 ? LayerHold([fd]) : nil
    }

    func release() {
        lock.withLock {
            descriptors.forEach { close($0) }
            descriptors = []
        }
    }

    deinit { release() }

    /// True when no build holds the file: the exclusive lock, for removing it, is then the caller's.
    static func exclusive(_ path: String) -> Int32? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }
}
