import Foundation

/// What the engine tells the outside world. The CLI renders these as a live view, plain lines
/// or JSON lines; tests collect them.
public enum BuildEvent: Sendable {
    case stepStarted(build: String, step: String)
    case stepFinished(build: String, step: String, seconds: Double)
    case stepFailed(build: String, step: String, seconds: Double, error: String)
    /// Bytes done of a total (nil when unknown), for downloads, conversions, uploads.
    case progress(build: String, step: String, done: UInt64, total: UInt64?)
    /// A line the guest printed (provisioner output), or a tool's stderr line.
    case output(build: String, step: String, stream: OutputStream, line: String)
    /// Something the user should know: which accelerator ran and why, a forced power-off...
    case info(build: String, message: String)
    case warning(build: String, message: String)
    /// An undo running during cleanup.
    case cleanup(build: String, action: String, error: String?)

    public enum OutputStream: String, Sendable { case stdout, stderr }
}

/// Receives events; must be cheap and safe to call from any task.
public protocol EventSink: Sendable {
    func emit(_ event: BuildEvent)
}

/// Drops everything (tests, quiet library use).
public struct NullEventSink: EventSink {
    public init() {}
    public func emit(_ event: BuildEvent) {}
}
