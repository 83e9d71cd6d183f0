import Dispatch

/// A dedicated serial thread for libvirt's blocking calls, so they never occupy a thread of
/// Swift's cooperative pool. Each call runs whole on that thread, so the error it leaves in
/// libvirt's per-thread last-error slot is read by the same call.
final class CallQueue: Sendable {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label, qos: .userInitiated)
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws(LibvirtError) -> T) async throws(LibvirtError) -> T {
        let result: Result<T, LibvirtError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(LibvirtError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Like `run`, for work whose errors are not all libvirt's (a stream's source or sink failing).
    func perform<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let result: Result<T, any Error> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { try body() })
            }
        }
        return try result.get()
    }

    /// Runs `body` later without waiting for it (for releasing handles from `deinit`).
    func enqueue(_ body: @escaping @Sendable () -> Void) {
        queue.async(execute: body)
    }
}
