import CGuestFS
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libguestfs handle (`guestfs_h`), closed in `deinit`.
///
/// A handle is not thread-safe and its calls block for a long time (a launch takes seconds), so
/// every call runs on the handle's own serial queue: use `run`, which hands the closure this
/// handle on that queue and suspends the caller without blocking Swift's cooperative pool. The
/// synchronous methods check that they are called from there. That serial queue is what makes
/// the `@unchecked Sendable` safe.
public final class Handle: @unchecked Sendable {
    let g: OpaquePointer
    private let queue: DispatchQueue

    /// - Parameter environment: when true, libguestfs reads its environment variables
    ///   (LIBGUESTFS_BACKEND_SETTINGS, LIBGUESTFS_DEBUG, LIBGUESTFS_TRACE, ...) as it does by default.
    public init(environment: Bool = true) throws {
        let flags: UInt32 = environment ? 0 : UInt32(GUESTFS_CREATE_NO_ENVIRONMENT)
        guard let handle = cguestfs_create_flags(flags) else {
            throw GuestFSError(function: "create", message: "cannot create a libguestfs handle")
        }
        g = handle
        queue = DispatchQueue(label: "guestfs.handle")
    }

    deinit {
        guestfs_close(g)
    }

    /// Runs `body` on the handle's queue and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable (Handle) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                // The error handler, like the last error, is per thread, and a serial queue may
                // use a different thread each time. Errors are thrown, so never printed.
                guestfs_set_error_handler(self.g, nil, nil)
                continuation.resume(with: Result { try body(self) })
            }
        }
    }

    // MARK: helpers for the wrappers

    func onQueue() {
        dispatchPrecondition(condition: .onQueue(queue))
    }

    func lastError(_ function: String) -> GuestFSError {
        let message = guestfs_last_error(g).map { String(cString: $0) } ?? "unknown error"
        return GuestFSError(function: function, message: message, errno: guestfs_last_errno(g))
    }

    /// For calls returning 0 on success and -1 on error.
    func check(_ function: String, _ result: Int32) throws {
        onQueue()
        if result == -1 { throw lastError(function) }
    }

    /// For calls returning a boolean as 1/0 and -1 on error.
    func checkBool(_ function: String, _ result: Int32) throws -> Bool {
        onQueue()
        if result == -1 { throw lastError(function) }
        return result != 0
    }

    /// Takes ownership of a returned string (NULL is an error).
    func takeString(_ function: String, _ pointer: UnsafeMutablePointer<CChar>?) throws -> String {
        onQueue()
        guard let pointer else { throw lastError(function) }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    /// Takes ownership of a returned NULL-terminated string list (NULL is an error).
    func takeStringList(_ function: String, _ list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) throws -> [String] {
        onQueue()
        guard let list else { throw lastError(function) }
        defer { free(list) }
        var strings: [String] = []
        var index = 0
        while let element = list[index] {
            strings.append(String(cString: element))
            free(element)
            index += 1
        }
        return strings
    }
}
