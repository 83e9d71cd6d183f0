import Foundation

public enum OnError: String, Sendable, CaseIterable {
    /// Undo everything the build created (the default).
    case cleanup
    /// Keep the domain and work disk for debugging and print how to reach them.
    case abort
}

public struct BuildOptions: Sendable {
    /// Replace an existing output directory (only once the new outputs are complete).
    public var force: Bool
    public var onError: OnError
    /// Where per-build working directories go.
    public var workRoot: String
    /// How often the guest's SSH port and the domain state are polled.
    public var pollInterval: Duration
    public var kilnVersion: String

    public init(force: Bool = false, onError: OnError = .cleanup, workRoot: String = BuildOptions.defaultWorkRoot,
                pollInterval: Duration = .milliseconds(250), kilnVersion: String = "dev") {
        self.force = force
        self.onError = onError
        self.workRoot = workRoot
        self.pollInterval = pollInterval
        self.kilnVersion = kilnVersion
    }

    public static var defaultWorkRoot: String {
        ProcessInfo.processInfo.environment["KILN_WORK_DIR"] ?? "/var/tmp/kiln"
    }
}
