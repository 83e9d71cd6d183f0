import Foundation
import GuestFS
import KilnCore

/// Writes the build's authorized key and pinned host key into a mounted guest, and takes the key out again.
/// Runs on the handle's queue (inside `Handle.run`).
enum GuestSeeding {
    static let hostKeyPath = "/etc/ssh/ssh_host_ed25519_key"

    /// Appends the key line to ~USER/.ssh/authorized_keys, writes the host key pair and makes
    /// sure sshd is enabled. Returns lines for the build output.
    static func seed(_ seed: SeedMaterial, on h: Handle) throws -> [String] {
        var notes: [String] = []
        let user = try passwdEntry(seed.username, on: h)
        let sshDirectory = GuestPath.join(user.home, ".ssh")
        let keysFile = sshDirectory + "/authorized_keys"
        try offline("cannot write \(keysFile) in the guest") {
            let createdDirectory = !(try h.exists(sshDirectory))
            if createdDirectory { try h.mkdirP(sshDirectory) }
            try h.chmod(0o700, sshDirectory)
            try h.chown(uid: user.uid, gid: user.gid, sshDirectory)

            let createdFile = !(try h.exists(keysFile))
            let existing = createdFile ? "" : try h.readText(keysFile)
            let line = AuthorizedKeys.line(for: seed.authorizedKey, createdDirectory: createdDirectory, createdFile: createdFile)
            try h.write(keysFile, text: AuthorizedKeys.adding(line, to: existing))
            try h.chmod(0o600, keysFile)
            try h.chown(uid: user.uid, gid: user.gid, keysFile)
        }
        notes.append("seed: added the build's key to \(keysFile)")

        try offline("cannot write the SSH host key in the guest") {
            try h.mkdirP("/etc/ssh")
            var privateKey = seed.hostPrivateKeyOpenSSH
            if !privateKey.hasSuffix("\n") { privateKey += "\n" }
            try h.write(hostKeyPath, text: privateKey)
            try h.chmod(0o600, hostKeyPath)
            try h.chown(uid: 0, gid: 0, hostKeyPath)
            try h.write(hostKeyPath + ".pub", text: seed.hostPublicKey.trimmingCharacters(in: .whitespacesAndNewlines) + "\n")
            try h.chmod(0o644, hostKeyPath + ".pub")
            try h.chown(uid: 0, gid: 0, hostKeyPath + ".pub")
        }
        notes.append("seed: wrote the pinned host key to \(hostKeyPath)")
        notes += try SSHDStartup.ensureEnabled(on: h)
        return notes
    }

    /// Removes Kiln's key lines from the authorized_keys files of root, /home/* and the seed's user;
    /// then the file and the .ssh directory when Kiln created them and they are empty. Returns what went.
    static func removeBuildKey(_ seed: SeedMaterial?, on h: Handle) throws -> [String] {
        var homes = ["/root"] + (try h.globExpand("/home/*").map(GuestPath.trimmed))
        if let seed, let user = try? passwdEntry(seed.username, on: h), !homes.contains(GuestPath.trimmed(user.home)) {
            homes.append(GuestPath.trimmed(user.home))
        }
        var removed: [String] = []
        for home in homes {
            let sshDirectory = GuestPath.join(home, ".ssh")
            let keysFile = sshDirectory + "/authorized_keys"
            guard try h.isFile(keysFile) else { continue }
            let removal = AuthorizedKeys.removing(key: seed?.authorizedKey, from: try h.readText(keysFile))
            guard removal.removedLines > 0 else { continue }
            removed.append("\(keysFile): \(removal.removedLines) build key line\(removal.removedLines == 1 ? "" : "s")")
            let remainingEmpty = removal.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            if remainingEmpty && (removal.createdFile || removal.removedUnmarkedLine) {
                try h.rm(keysFile)
                removed.append(keysFile)
                if (removal.createdDirectory || removal.removedUnmarkedLine), try h.ls(sshDirectory).isEmpty {
                    try h.rmdir(sshDirectory)
                    removed.append(sshDirectory)
                }
            } else {
                try h.write(keysFile, text: removal.text)
            }
        }
        return removed
    }

    static func passwdEntry(_ username: String, on h: Handle) throws -> PasswdEntry {
        let passwd = try offline("cannot read /etc/passwd in the guest") { try h.readText("/etc/passwd") }
        guard let entry = PasswdEntry.find(username, in: passwd) else {
            throw KilnError(.offline, "user \(username) not found in the guest's /etc/passwd",
                            hint: "set ssh.username to a user that exists in the image")
        }
        return entry
    }
}
