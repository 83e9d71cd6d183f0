import Foundation
import KilnCore

/// Runs a tool that spawns helpers (mmdebstrap: apt, dpkg, maintainer scripts) in its own
/// process group, so that cancelling stops all of them, not just the first process.
enum ProcessGroup {
    static func run(_ tool: String, _ arguments: [String], pidFile: String,
                    onLine: @escaping @Sendable (BuildEvent.OutputStream, String) -> Void) async throws {
        // setsid makes a new session (and group) whose id is the pid that sh writes before exec.
        let wrapped = ["--wait", "sh", "-c", "echo $$ > \"$0\"; exec \"$@\"", pidFile, tool] + arguments
        try await withTaskCancellationHandler {
            _ = try await Subprocess.run("setsid", wrapped, onStdoutLine: { onLine(.stdout, $0) },
                                         onStderrLine: { onLine(.stderr, $0) })
        } onCancel: {
            terminate(pidFile: pidFile)
        }
    }

    /// SIGTERM to the group (mmdebstrap then cleans up its mounts), SIGKILL 10 s later.
    static func terminate(pidFile: String) {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let group = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), group > 1 else { return }
        kill(-group, SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + 10) {
            if kill(-group, 0) == 0 { kill(-group, SIGKILL) }
        }
    }
}

/// Mounts left under a directory by an interrupted mmdebstrap (/proc, /sys, /dev of the chroot).
enum LeftoverMounts {
    static func mountPoints(under directory: String, mountInfo: String) -> [String] {
        mountInfo.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return nil }
            return String(fields[4]).replacingOccurrences(of: "\\040", with: " ")
        }
        .filter { $0.hasPrefix(directory + "/") }
        .sorted { $0.count > $1.count }   // deepest first
    }

    static func unmountAll(under directory: String) async {
        guard let info = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return }
        for mountPoint in mountPoints(under: directory, mountInfo: info) {
            _ = try? await Subprocess.run("umount", ["-l", mountPoint], check: false)
        }
    }
}
