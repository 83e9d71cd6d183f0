import Foundation
import KilnSSH

/// A real OpenSSH server on 127.0.0.1 whose host key and authorized key come from KilnSSH,
/// so a successful login proves the key formats. Always stopped by `withSSHServer`.
final class SSHServerFixture: @unchecked Sendable {
    let directory: TemporaryDirectory
    let port: Int
    let hostKey: SSHKeyPair
    let clientKey: SSHKeyPair
    private let process: SpawnedProcess

    private init(directory: TemporaryDirectory) throws {
        self.directory = directory
        hostKey = .generate(comment: "kiln-test-host")
        clientKey = .generate(comment: "kiln-test-client")
        try hostKey.writePrivateKey(to: directory.file("host_key"))
        try (clientKey.publicKeyLine + "\n").write(toFile: directory.file("authorized_keys"), atomically: true, encoding: .utf8)
        port = try freeLoopbackPort()
        let config = """
            HostKey \(directory.file("host_key"))
            AuthorizedKeysFile \(directory.file("authorized_keys"))
            PidFile none
            StrictModes no
            ListenAddress 127.0.0.1
            UsePAM no
            PasswordAuthentication yes
            KbdInteractiveAuthentication no
            LogLevel VERBOSE

            """
        try config.write(toFile: directory.file("sshd_config"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)

        process = try SpawnedProcess(
            "/usr/sbin/sshd", ["-D", "-e", "-f", directory.file("sshd_config"), "-p", "\(port)"],
            logPath: directory.file("sshd.log"))
    }

    var log: String {
        (try? String(contentsOfFile: directory.file("sshd.log"), encoding: .utf8)) ?? ""
    }

    /// Waits until the server accepts connections (at most 10 s).
    private func waitUntilListening() async throws {
        for _ in 0..<200 {
            guard process.isRunning else { throw ServerFailed(log: log) }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            close(fd)
            if connected == 0 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServerFailed(log: log)
    }

    private func stop() {
        process.stop()
        directory.remove()
    }

    struct ServerFailed: Error, CustomStringConvertible {
        var log: String
        var description: String { "sshd did not start:\n\(log)" }
    }

    func connect(
        username: String = "root", auth: SSHAuthentication? = nil, hostKey: SSHHostKeyPolicy? = nil
    ) async throws -> SSHClient {
        try await SSHClient.connect(
            host: "127.0.0.1", port: port, username: username, auth: auth ?? .privateKey(clientKey),
            hostKey: hostKey ?? .pinned(self.hostKey.publicKeyLine), connectTimeout: .seconds(3),
            handshakeTimeout: .seconds(10))
    }

    /// Starts sshd, runs `body`, and stops sshd and removes its files whatever happens.
    static func withSSHServer<T>(_ body: (SSHServerFixture) async throws -> T) async throws -> T {
        let directory = try TemporaryDirectory()
        let server: SSHServerFixture
        do {
            server = try SSHServerFixture(directory: directory)
        } catch {
            directory.remove()
            throw error
        }
        defer { server.stop() }
        try await server.waitUntilListening()
        return try await body(server)
    }
}
