import Foundation

public struct TimeoutError: Error, Sendable {}

/// Runs `work`, cancelling it and throwing TimeoutError if it outlives `limit`.
public func withTimeout<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await work() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw TimeoutError() }
        return value
    }
}

/// Like `withTimeout`, but returns at the limit even when `work` does not answer cancellation:
/// the work is cancelled and left to finish on its own. For calls on a connection that may be
/// dead without anyone telling (a guest that rebooted under an open SSH session).
public func withAbandonAfter<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    let once = ResumeOnce<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            once.set(continuation)
            let worker = Task {
                do { once.resume(with: .success(try await work())) } catch { once.resume(with: .failure(error)) }
            }
            once.onResume { worker.cancel() }
            Task {
                try? await Task.sleep(for: limit)
                once.resume(with: .failure(TimeoutError()))
            }
        }
    } onCancel: {
        once.resume(with: .failure(CancellationError()))
    }
}

/// A continuation resumed by whichever comes first; later results are dropped.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var pending: Result<T, any Error>?
    private var done = false
    private var after: (@Sendable () -> Void)?

    func set(_ continuation: CheckedContinuation<T, any Error>) {
        let early: Result<T, any Error>? = lock.withLock {
            if let pending { return pending }
            self.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func onResume(_ action: @escaping @Sendable () -> Void) {
        let fire = lock.withLock { () -> Bool in
            if done { return true }
            after = action
            return false
        }
        if fire { action() }
    }

    func resume(with result: Result<T, any Error>) {
        let (target, action): (CheckedContinuation<T, any Error>?, (@Sendable () -> Void)?) = lock.withLock {
            guard !done else { return (nil, nil) }
            done = true
            if continuation == nil { pending = result }
            let target = continuation
            continuation = nil
            return (target, after)
        }
        target?.resume(with: result)
        action?()
    }
}
