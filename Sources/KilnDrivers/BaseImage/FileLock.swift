import Foundation
import KilnCore

/// An exclusive `flock` on a lock file, held until `unlock()` or deinit. Waiting polls with a
/// non-blocking flock so that it never blocks a cooperative thread and stays cancellable.
final class FileLock: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var held = true

    private init(fd: Int32) { self.fd = fd }

    /// Waits until the lock is ours. `onWait` is called once if another process holds it.
    static func acquire(_ path: String, onWait: (() -> Void)? = nil) async throws -> FileLock {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw KilnError(.baseImage, "cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        var told = false
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let message = String(cString: strerror(errno))
                close(fd)
                throw KilnError(.baseImage, "cannot lock \(path): \(message)")
            }
            if !told { onWait?(); told = true }
            do { try await Task.sleep(for: .milliseconds(200)) } catch { close(fd); throw error }
        }
        return FileLock(fd: fd)
    }

    /// The lock if nobody holds it now, nil when a running build does (or it cannot be opened).
    static func tryAcquire(_ path: String) -> FileLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return FileLock(fd: fd)
    }

    /// True when some process holds the lock now (a running build uses this entry).
    static func isHeld(_ path: String) -> Bool {
        guard FileManager.default.fileExists(atPath: path) else { return false }
        guard let lock = tryAcquire(path) else { return true }
        lock.unlock()
        return false
    }

    func unlock() {
        lock.withLock {
            guard held else { return }
            held = false
            flock(fd, LOCK_UN)
            close(fd)
        }
    }

    deinit { unlock() }
}
