import Foundation
import KilnCore
@testable import KilnDrivers

/// Boots a disk under QEMU (TCG, user networking, SSH forwarded on 127.0.0.1) on a throwaway
/// overlay, seeds root's key and a host key through SMBIOS credentials, and runs ssh against it.
/// Everything it starts is killed and removed in `stop()` / deinit.
final class BaseImageGuestBoot: @unchecked Sendable {
    let dir: BaseImageTempDir
    let port: Int
    let hostPublicKey: String
    private let process: Process
    private let consoleLog: String

    /// `kernel` given: direct kernel boot; otherwise the disk's bootloader runs.
    init(disk: String, kernel: (path: String, initrd: String, cmdline: String)? = nil) async throws {
        dir = try BaseImageTempDir()
        let overlay = dir.file("overlay.qcow2")
        try await Subprocess.run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", disk, overlay])
        try await Subprocess.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kiln-test", "-f", dir.file("client")])
        try await Subprocess.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kiln-host", "-f", dir.file("host")])
        let clientKey = try String(contentsOfFile: dir.file("client.pub"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let hostKey = try Data(contentsOf: URL(fileURLWithPath: dir.file("host"))).base64EncodedString()
        hostPublicKey = try String(contentsOfFile: dir.file("host.pub"), encoding: .utf8)
            .split(separator: " ").prefix(2).joined(separator: " ")
        port = try BaseImageDownloadTests.closedPort()
        consoleLog = dir.file("console.log")

        var args = ["-accel", "tcg", "-m", "1024", "-smp", "2", "-nographic", "-no-reboot",
                    "-drive", "file=\(overlay),if=virtio,format=qcow2",
                    "-netdev", "user,id=n,hostfwd=tcp:127.0.0.1:\(port)-:22", "-device", "virtio-net-pci,netdev=n",
                    "-smbios", "type=11,value=io.systemd.credential:ssh.authorized_keys.root=\(clientKey)",
                    "-smbios", "type=11,value=io.systemd.credential:tmpfiles.extra=f~ /etc/ssh/ssh_host_ed25519_key 0600 root root - \(hostKey)"]
        if let kernel { args += ["-kernel", kernel.path, "-initrd", kernel.initrd, "-append", kernel.cmdline] }
        process = Process()
        guard let qemu = Subprocess.which("qemu-system-x86_64") else { throw KilnError(.internal, "qemu-system-x86_64 is not installed") }
        process.executableURL = URL(fileURLWithPath: qemu)
        process.arguments = args
        _ = FileManager.default.createFile(atPath: consoleLog, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: consoleLog))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Runs `command` over SSH once; the exit status and stdout.
    func ssh(_ command: String, timeout: Int = 10) async throws -> (status: Int32, output: String) {
        let result = try await Subprocess.run("ssh", [
            "-i", dir.file("client"), "-p", "\(port)", "-o", "BatchMode=yes", "-o", "ConnectTimeout=\(timeout)",
            "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(dir.file("known_hosts"))",
            "-o", "LogLevel=ERROR", "root@127.0.0.1", command], check: false)
        return (result.status, result.stdoutText)
    }

    /// Polls until `true` succeeds over SSH with the pinned host key; the seconds it took.
    func waitForSSH(within seconds: Double) async throws -> Double {
        try "[127.0.0.1]:\(port) \(hostPublicKey)\n".write(toFile: dir.file("known_hosts"), atomically: true, encoding: .utf8)
        let start = ContinuousClock.now
        while (ContinuousClock.now - start).seconds < seconds {
            guard process.isRunning else { break }
            if try await ssh("true", timeout: 5).status == 0 { return (ContinuousClock.now - start).seconds }
            try await Task.sleep(for: .seconds(1))
        }
        throw KilnError(.ssh, "no SSH within \(Int(seconds)) s; console:\n" + consoleTail())
    }

    /// Waits for QEMU to exit by itself (the guest powered off).
    func waitForExit(within seconds: Double) async -> Bool {
        let start = ContinuousClock.now
        while process.isRunning && (ContinuousClock.now - start).seconds < seconds {
            try? await Task.sleep(for: .milliseconds(200))
        }
        return !process.isRunning
    }

    func consoleTail() -> String {
        let text = (try? String(contentsOfFile: consoleLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(25).joined(separator: "\n")
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
