import Foundation

/// Waits for a task for a bounded time. A libvirt call blocked on a daemon that accepts the
/// connection but never answers cannot be interrupted; the task then goes on in the background
/// (its thread is freed when the socket finally closes) and the caller moves on.
enum BoundedWait {
    struct TimedOut: Error {}

    static func value<T: Sendable>(of task: Task<T, any Error>, within limit: Duration) async throws -> T {
        let once = ResumeOnce<T>()
        return try await withCheckedThrowingContinuation { continuation in
            once.set(continuation)
            Task { once.resume(with: await task.result) }
            Task {
                try? await Task.sleep(for: limit)
                once.resume(with: .failure(TimedOut()))
            }
        }
    }
}

/// A continuation resumed by whichever result comes first.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var early: Result<T, any Error>?

    func set(_ continuation: CheckedContinuation<T, any Error>) {
        let ready: Result<T, any Error>? = lock.withLock {
            if let early { return early }
            self.continuation = continuation
            return nil
        }
        if let ready { continuation.resume(with: ready) }
    }

    func resume(with result: Result<T, any Error>) {
        let waiting: CheckedContinuation<T, any Error>? = lock.withLock {
            defer { continuation = nil }
            if continuation == nil && early == nil { early = result }
            return continuation
        }
        waiting?.resume(with: result)
    }
}
