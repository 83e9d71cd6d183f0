import Foundation

/// The one error type the engine reports: a code the CLI maps to an exit status, a message a
/// user can act on, an optional hint, and the underlying cause kept for `--debug`.
public struct KilnError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case template          // bad template or arguments (exit 2)
        case baseImage         // base image missing, download or checksum failure
        case hypervisor        // libvirt / QEMU failures
        case ssh               // could not reach or talk to the guest
        case provisioner       // a provisioner failed in the guest
        case offline           // libguestfs work on the disk
        case export            // conversion or packaging of artifacts
        case publish           // AWS
        case outputExists      // the output directory exists and --force was not given
        case cancelled         // SIGINT / SIGTERM
        case `internal`

        /// Documented in the README: 0 ok, 1 build failed, 2 bad input, 3 output exists, 130 interrupted.
        public var exitCode: Int32 {
            switch self {
            case .template: return 2
            case .outputExists: return 3
            case .cancelled: return 130
            default: return 1
            }
        }
    }

    public var code: Code
    public var message: String
    public var hint: String?
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, hint: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.cause = cause
    }

    public var description: String {
        var text = message
        if let hint { text += "\n  hint: \(hint)" }
        return text
    }

    /// Wraps any error: KilnError passes through, cancellation becomes `.cancelled`.
    public static func wrap(_ error: any Error, as code: Code, _ message: @autoclosure () -> String) -> KilnError {
        if let kiln = error as? KilnError { return kiln }
        if error is CancellationError { return KilnError(.cancelled, "interrupted") }
        return KilnError(code, "\(message()): \(error)", cause: error)
    }
}
