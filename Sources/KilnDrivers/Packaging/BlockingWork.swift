import Dispatch
import Foundation

/// Runs blocking file work (hashing, archiving gigabytes) on a GCD thread instead of the
/// cooperative pool. The work polls the flag it is given; cancelling the task raises it.
enum BlockingWork {
    final class CancellationFlag: @unchecked Sendable {
        private let lock = NSLock()
        private var raised = false
        func raise() { lock.withLock { raised = true } }
        var isRaised: Bool { lock.withLock { raised } }
    }

    static func run<T: Sendable>(_ work: @escaping @Sendable (CancellationFlag) throws -> T) async throws -> T {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try work(flag) })
                }
            }
        } onCancel: {
            flag.raise()
        }
    }
}
