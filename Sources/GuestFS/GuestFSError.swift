/// A failed libguestfs call: the handle's last error and errno, read right after the call.
public struct GuestFSError: Error, Sendable, CustomStringConvertible {
    /// The C function that failed, without the `guestfs_` prefix (e.g. "launch").
    public var function: String
    public var message: String
    /// `guestfs_last_errno`; 0 when libguestfs did not capture one.
    public var errno: Int32

    public init(function: String, message: String, errno: Int32 = 0) {
        self.function = function
        self.message = message
        self.errno = errno
    }

    public var description: String { "\(function): \(message)" }
}
