import Foundation

/// Which machine a Kiln process runs on, recorded with what it leaves on a remote host: a PID
/// says whether its owner is alive only on the machine that owns it, so `kiln clean` on another
/// machine sharing that host must leave it alone.
enum HostIdentity {
    /// systemd's machine id (Debian writes one even without systemd), else the host name.
    static let current: String = {
        if let id = try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), !id.isEmpty {
            return id
        }
        return ProcessInfo.processInfo.hostName
    }()
}
