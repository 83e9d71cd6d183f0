import KilnTemplate

/// What one generalize operation does to the guest.
enum GeneralizeAction: Equatable, Sendable {
    /// Remove every path matching a guest glob (recursively).
    case remove(String)
    /// Empty every regular file matching a guest glob, keeping the file, owner and mode.
    case truncate(String)
    /// Under /var/log: truncate current logs, remove rotated ones and journal files.
    case clearLogs
    /// Remove the build's authorized key line (and the file and directory Kiln created for it).
    case removeBuildKey
    /// Make sure sshd regenerates its host keys at boot (a systemd drop-in when none does).
    case ensureHostKeyRegeneration
}

/// The generalize operations as data: the worker runs these actions, `describe` prints them.
public enum GeneralizePlan {
    static func actions(for operation: GeneralizeOperation) -> [GeneralizeAction] {
        switch operation {
        case .sshKeys:
            return [.removeBuildKey]
        case .sshHostKeys:
            return [.remove("/etc/ssh/ssh_host_*"), .ensureHostKeyRegeneration]
        case .machineID:
            return [.truncate("/etc/machine-id"), .remove("/var/lib/dbus/machine-id")]
        case .dhcpLeases:
            return [.remove("/var/lib/dhcp/*"), .remove("/var/lib/dhclient/*"),
                    .remove("/var/lib/NetworkManager/*.lease"), .remove("/var/lib/NetworkManager/dhclient-*"),
                    .remove("/var/lib/dhcpcd/*.lease"), .remove("/var/lib/systemd/network/*.lease")]
        case .logs:
            return [.clearLogs]
        case .shellHistory:
            return ["/root", "/home/*"].flatMap { home in
                [".bash_history", ".ash_history", ".sh_history", ".zsh_history", ".python_history", ".lesshst"]
                    .map { GeneralizeAction.remove("\(home)/\($0)") }
            }
        case .tmpFiles:
            return ["/tmp", "/var/tmp"].flatMap { dir in
                [GeneralizeAction.remove("\(dir)/*"), .remove("\(dir)/.[!.]*")]
            }
        case .aptCache:
            return [.remove("/var/cache/apt/archives/*.deb"), .remove("/var/cache/apt/archives/partial/*"),
                    .remove("/var/cache/apt/*.bin"),
                    // List files are named host_path_dists_...; `lock` and `partial/` stay.
                    .remove("/var/lib/apt/lists/*_*"), .remove("/var/lib/apt/lists/partial/*")]
        case .cloudInit:
            return [.remove("/var/lib/cloud/*"), .remove("/var/log/cloud-init*.log")]
        }
    }

    /// Human lines, one per operation in force, saying what it removes (`kiln inspect` prints them).
    public static func describe(_ spec: GeneralizeSpec) -> [String] {
        describe(GeneralizeRequest(spec))
    }

    static func describe(_ spec: GeneralizeRequest) -> [String] {
        guard spec.enabled else { return ["generalize: disabled"] }
        var lines = spec.operations.map { "\($0.rawValue): \(summary(of: $0))" }
        if !spec.delete.isEmpty {
            lines.append("delete: removes \(spec.delete.joined(separator: ", "))")
        }
        lines.append(spec.compact
            ? "compact: fstrim every filesystem so freed blocks leave the qcow2"
            : "compact: off")
        return lines
    }

    static func summary(of operation: GeneralizeOperation) -> String {
        switch operation {
        case .sshKeys:
            return "removes the build's authorized key line (marked kiln-build/kiln-seed) from ~USER/.ssh/authorized_keys, "
                + "and the file and .ssh directory when Kiln created them and they are left empty"
        case .sshHostKeys:
            return "removes /etc/ssh/ssh_host_*; adds a systemd drop-in running ssh-keygen -A before sshd "
                + "when the guest has nothing that regenerates them at boot"
        case .logs:
            return "truncates the files under /var/log, removes rotated logs (*.1, *.gz, *.old) and journal files"
        default:
            let paths = actions(for: operation).compactMap { action -> String? in
                switch action {
                case .remove(let glob): return glob
                case .truncate(let glob): return "\(glob) (emptied)"
                default: return nil
                }
            }
            return "removes " + paths.joined(separator: ", ")
        }
    }
}

/// The worker's copy of a `GeneralizeSpec` (which has no public initializer, so tests build this).
struct GeneralizeRequest: Sendable, Equatable {
    var enabled: Bool
    var operations: [GeneralizeOperation]
    var delete: [String]
    var compact: Bool

    init(enabled: Bool = true, operations: [GeneralizeOperation] = GeneralizeOperation.allCases,
         delete: [String] = [], compact: Bool = true) {
        self.enabled = enabled
        self.operations = operations
        self.delete = delete
        self.compact = compact
    }

    init(_ spec: GeneralizeSpec) {
        self.init(enabled: spec.enabled, operations: spec.operations, delete: spec.delete, compact: spec.compact)
    }
}
