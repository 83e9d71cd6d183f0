import Foundation
import GuestFS
import KilnCore

/// Makes sure the guest's OpenSSH server starts at boot, with or without host keys on disk.
enum SSHDStartup {
    static let unitDirectories = ["/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"]
    /// Debian's ssh.service runs `sshd -t` first, which fails without host keys: reset the list
    /// so the keys are generated before that check.
    static let dropIn = """
        # Added by Kiln when it removed the SSH host keys: regenerate them before sshd starts.
        [Service]
        ExecStartPre=
        ExecStartPre=/usr/bin/ssh-keygen -A
        ExecStartPre=/usr/sbin/sshd -t

        """

    /// The path of the guest's ssh.service (or sshd.service) unit, if it has one.
    static func unit(on h: Handle) throws -> (name: String, path: String)? {
        for name in ["ssh.service", "sshd.service"] {
            for directory in unitDirectories.dropFirst() {
                if try h.isFile("\(directory)/\(name)") { return (name, "\(directory)/\(name)") }
            }
        }
        return nil
    }

    /// Enables ssh.service when the guest has it but it is not wanted by multi-user.target,
    /// and removes Debian's `sshd_not_to_be_run` switch. Returns notes for the build output.
    static func ensureEnabled(on h: Handle) throws -> [String] {
        try offline("cannot enable sshd in the guest") {
            guard let unit = try unit(on: h) else {
                if try h.exists("/usr/sbin/sshd") {
                    return ["seed: the guest has sshd but no systemd unit; its init must start sshd"]
                }
                if try h.exists("/usr/sbin/dropbear") {
                    return ["seed: the guest runs dropbear; its init must convert \(GuestSeeding.hostKeyPath) (dropbearconvert)"]
                }
                return ["seed: the guest has no known SSH server; the pinned host key is in \(GuestSeeding.hostKeyPath)"]
            }
            var notes: [String] = []
            if try h.exists("/etc/ssh/sshd_not_to_be_run") {
                try h.rm("/etc/ssh/sshd_not_to_be_run")
                notes.append("seed: removed /etc/ssh/sshd_not_to_be_run")
            }
            let wants = "/etc/systemd/system/multi-user.target.wants"
            let enabled = try h.exists("\(wants)/ssh.service") || h.exists("\(wants)/sshd.service")
                || h.isSymlink("\(wants)/ssh.service") || h.isSymlink("\(wants)/sshd.service")
            if !enabled {
                try h.mkdirP(wants)
                try h.symlink(target: unit.path, at: "\(wants)/\(unit.name)")
                notes.append("seed: enabled \(unit.name) (it was not wanted by multi-user.target)")
            }
            return notes
        }
    }

    /// After the host keys are removed: returns a note about what regenerates them at boot,
    /// adding Kiln's drop-in when nothing does.
    static func ensureHostKeyRegeneration(on h: Handle) throws -> String {
        try offline("cannot add the host key drop-in in the guest") {
            guard let unit = try unit(on: h) else {
                return "ssh-host-keys: the guest has no ssh.service; whatever starts its SSH server must create host keys"
            }
            var candidates = [unit.path]
            for directory in unitDirectories {
                candidates += try h.globExpand("\(directory)/\(unit.name).d/*.conf")
            }
            for path in candidates {
                if try h.readText(path).contains("ssh-keygen -A") {
                    return "ssh-host-keys: \(path) regenerates host keys at boot"
                }
            }
            try h.mkdirP("/etc/systemd/system/\(unit.name).d")
            let path = "/etc/systemd/system/\(unit.name).d/kiln-host-keys.conf"
            try h.write(path, text: dropIn)
            try h.chmod(0o644, path)
            return "ssh-host-keys: added \(path) so sshd regenerates its host keys at boot"
        }
    }
}
