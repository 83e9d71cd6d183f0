import Foundation
import GuestFS
import KilnCore
import KilnTemplate

/// Runs the offline provisioner kinds (virt-customize's vocabulary) on a mounted guest, in order.
enum OfflineSteps {
    static func run(_ steps: [ProvisionerKind], in session: ApplianceSession,
                    events: any EventSink, build: String) async throws {
        for step in steps {
            try Task.checkCancellation()
            events.emit(.info(build: build, message: "offline: \(title(of: step))"))
            // Hashing runs on the host, before the handle's queue is entered.
            let passwordHash: String? = if case .rootPassword(let password) = step {
                try await PasswordHasher.sha512Crypt(password)
            } else {
                nil
            }
            let lines = try await session.run { h in
                try apply(step, passwordHash: passwordHash, on: h)
            }
            for line in lines {
                events.emit(.output(build: build, step: "offline", stream: .stdout, line: line))
            }
        }
    }

    /// A one-line description that never includes a password.
    static func title(of step: ProvisionerKind) -> String {
        switch step {
        case .write(let path, _, let mode):
            return "write \(path)" + (mode.map { " (mode \(String($0, radix: 8)))" } ?? "")
        case .upload(let source, let destination): return "upload \(source) -> \(destination)"
        case .delete(let paths): return "delete \(paths.joined(separator: " "))"
        case .runCommand(let command): return "run-command \(command.split(separator: "\n").first ?? "")"
        case .hostname(let name): return "hostname \(name)"
        case .rootPassword: return "root password"
        case .shell, .file, .reboot: return "(not an offline step)"
        }
    }

    /// Applies one step; returns output lines for the build log.
    private static func apply(_ step: ProvisionerKind, passwordHash: String?, on h: Handle) throws -> [String] {
        switch step {
        case .write(let path, let content, let mode):
            try offline("write \(path) failed") {
                try h.mkdirP(parent(of: path))
                try h.write(path, text: content)
                if let mode { try h.chmod(mode, path) }
            }
            return []
        case .upload(let source, let destination):
            return try offline("upload \(source) -> \(destination) failed") {
                try upload(source, to: destination, on: h)
            }
        case .delete(let patterns):
            return try offline("delete failed") {
                var removed: [String] = []
                for pattern in patterns {
                    for path in try h.globExpand(pattern).map(GuestPath.trimmed) {
                        try h.rmRF(path)
                        removed.append("removed \(path)")
                    }
                }
                return removed
            }
        case .runCommand(let command):
            do {
                let output = try h.sh(command)
                return output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                    .filter { !$0.isEmpty }
            } catch let error as GuestFSError {
                throw KilnError(.provisioner, "offline command failed: \(title(of: step)): \(error.message)", cause: error)
            }
        case .hostname(let name):
            try offline("setting the hostname failed") {
                try h.write("/etc/hostname", text: name + "\n")
                let hosts = try h.exists("/etc/hosts") ? try h.readText("/etc/hosts") : nil
                try h.write("/etc/hosts", text: HostsFile.settingHostname(name, in: hosts))
            }
            return []
        case .rootPassword:
            guard let passwordHash else { return [] }
            try offline("setting the root password failed") {
                try setRootPassword(hash: passwordHash, on: h)
            }
            return []
        case .shell, .file, .reboot:
            throw KilnError(.internal, "\(title(of: step)) given to the offline worker")
        }
    }

    /// A host file goes to `destination` (into it when it is a guest directory or ends with `/`);
    /// a host directory is copied with its contents into `destination`, or only its contents
    /// when `source` ends with `/` (as rsync).
    private static func upload(_ source: String, to destination: String, on h: Handle) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw KilnError(.provisioner, "upload source not found on the host: \(source)")
        }
        if !isDirectory.boolValue {
            let intoDirectory = try destination.hasSuffix("/") || h.isDirectory(destination)
            let target = intoDirectory
                ? (destination.hasSuffix("/") ? destination : destination + "/") + (source as NSString).lastPathComponent
                : destination
            try h.mkdirP(parent(of: target))
            try h.upload(source, to: target)
            return ["uploaded \(source) -> \(target)"]
        }
        try h.mkdirP(destination)
        if source.hasSuffix("/") {
            let entries = try FileManager.default.contentsOfDirectory(atPath: source).sorted()
            for entry in entries { try h.copyIn(source + entry, toDirectory: destination) }
            return ["uploaded \(entries.count) entries of \(source) into \(destination)"]
        }
        try h.copyIn(source, toDirectory: destination)
        return ["uploaded \(source) into \(destination)"]
    }

    private static func setRootPassword(hash: String, on h: Handle) throws {
        for file in ["/etc/shadow", "/etc/passwd"] {
            guard try h.isFile(file) else { continue }
            if let edited = ShadowFile.settingPassword(hash, for: "root", in: try h.readText(file)) {
                let status = try h.lstat(file)
                try h.write(file, text: edited)
                try h.chmod(status.permissions, file)
                try h.chown(uid: status.uid, gid: status.gid, file)
                return
            }
        }
        throw KilnError(.provisioner, "cannot set the root password: the guest has no root entry in /etc/shadow or /etc/passwd")
    }

    static func parent(of path: String) -> String {
        let parent = (path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "/" : parent
    }
}
