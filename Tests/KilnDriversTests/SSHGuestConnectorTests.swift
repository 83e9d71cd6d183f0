import Foundation
import KilnCore
import KilnSSH
import Synchronization
import Testing
@testable import KilnDrivers

/// Records what a shell's `output` callback received.
private final class LineRecorder: Sendable {
    private let lines = Mutex<[(BuildEvent.OutputStream, String)]>([])
    var callback: @Sendable (BuildEvent.OutputStream, String) -> Void {
        { stream, line in self.lines.withLock { $0.append((stream, line)) } }
    }
    func lines(_ stream: BuildEvent.OutputStream) -> [String] {
        lines.withLock { $0.filter { $0.0 == stream }.map(\.1) }
    }
}

private func makeTemporaryDirectory() throws -> String {
    var template = Array((NSTemporaryDirectory() + "/kiln-guest-test.XXXXXX").utf8CString)
    guard let created = mkdtemp(&template) else { throw POSIXError(.EIO) }
    return String(cString: created)
}

@Suite struct OutputLineSplitterTests {
    @Test func splitsChunksIntoLinesPerStream() {
        let recorder = LineRecorder()
        let splitter = OutputLineSplitter(recorder.callback)
        splitter.append(.stdout, Array("one\r\ntw".utf8))
        splitter.append(.stderr, Array("warn".utf8))
        splitter.append(.stdout, Array("o\n\nthree".utf8))
        #expect(recorder.lines(.stdout) == ["one", "two", ""])
        #expect(recorder.lines(.stderr) == [])
        splitter.flush()
        #expect(recorder.lines(.stdout) == ["one", "two", "", "three"])
        #expect(recorder.lines(.stderr) == ["warn"])
    }

    @Test func keepsMultibyteCharactersSplitAcrossChunks() {
        let recorder = LineRecorder()
        let splitter = OutputLineSplitter(recorder.callback)
        let bytes = Array("héllo\n".utf8)
        splitter.append(.stdout, Array(bytes[..<2]))
        splitter.append(.stdout, Array(bytes[2...]))
        #expect(recorder.lines(.stdout) == ["héllo"])
    }

    @Test func emitsOverlongLinesInPieces() {
        let recorder = LineRecorder()
        let splitter = OutputLineSplitter(recorder.callback)
        splitter.append(.stdout, [UInt8](repeating: UInt8(ascii: "x"), count: OutputLineSplitter.maximumLineBytes + 10))
        #expect(recorder.lines(.stdout).map(\.count) == [OutputLineSplitter.maximumLineBytes])
        splitter.flush()
        #expect(recorder.lines(.stdout).map(\.count) == [OutputLineSplitter.maximumLineBytes, 10])
    }
}

@Suite struct GuestKeysTests {
    @Test func writesThePrivateClientKeyInAPrivateDirectory() throws {
        let parent = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let directory = parent + "/build/keys"
        let keys = try GuestKeys().generate(in: directory)
        #expect(keys.clientPrivateKeyPath == directory + "/id_ed25519")
        let fileMode = try FileManager.default.attributesOfItem(atPath: keys.clientPrivateKeyPath)[.posixPermissions] as? Int
        let directoryMode = try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int
        #expect(fileMode == 0o600)
        #expect(directoryMode == 0o700)
        let client = try SSHKeyPair(contentsOfPrivateKeyFile: keys.clientPrivateKeyPath)
        #expect(client.publicKeyLine == keys.authorizedKeyLine)
        let host = try SSHKeyPair(openSSHPrivateKey: keys.hostPrivateKeyOpenSSH)
        #expect(host.publicKeyLine == keys.hostPublicKeyLine)
        #expect(keys.hostPublicKeyLine != keys.authorizedKeyLine)
    }
}

@Suite struct SSHGuestConnectorErrorTests {
    @Test func authenticationFailureNamesTheUserTheKeyTypeAndTheFile() {
        let endpoint = GuestEndpoint(host: "127.0.0.1", port: 2222, username: "admin",
                                     credentials: .privateKey(path: "/work/id_ed25519"), hostKey: .acceptAny)
        let error = SSHGuestConnector.connectionError(SSHClientError.authenticationFailed(
            username: "admin", method: "publickey (ssh-ed25519 SHA256:abc)", serverMethods: ["publickey"]), endpoint)
        let kiln = error as? KilnError
        #expect(kiln?.code == .ssh)
        #expect(kiln?.message.contains("admin") == true)
        #expect(kiln?.message.contains("ssh-ed25519") == true)
        #expect(kiln?.message.contains("/work/id_ed25519") == true)
    }

    @Test func unusableKeyFilesFailClearly() throws {
        #expect {
            try SSHGuestConnector.authentication(.privateKey(path: "/nonexistent/key"))
        } throws: { error in
            (error as? KilnError)?.code == .ssh && (error as? KilnError)?.message.contains("/nonexistent/key") == true
        }
    }

    @Test func refusedConnectionIsAnSSHError() async throws {
        // Port 1 on loopback: nothing listens there.
        let endpoint = GuestEndpoint(host: "127.0.0.1", port: 1, username: "root",
                                     credentials: .password("x"), hostKey: .acceptAny)
        await #expect {
            _ = try await SSHGuestConnector().connect(endpoint)
        } throws: { error in
            (error as? KilnError)?.code == .ssh && (error as? KilnError)?.message.contains("refused") == true
        }
    }
}

/// A loopback TCP port nothing listens on right now (bound to port 0, then released).
private func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard ok else { throw POSIXError(.EADDRINUSE) }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// sshd on 127.0.0.1 keyed with GuestKeys output, as a seeded guest would be.
private struct LocalSSHServer {
    let directory: String
    let port: Int
    let keys: BuildKeys
    let process: ChildProcess

    static func with<T>(_ body: (LocalSSHServer) async throws -> T) async throws -> T {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keys = try GuestKeys().generate(in: directory + "/keys")
        let hostKeyPath = directory + "/host_key"
        try SSHKeyPair(openSSHPrivateKey: keys.hostPrivateKeyOpenSSH).writePrivateKey(to: hostKeyPath)
        try (keys.authorizedKeyLine + "\n").write(toFile: directory + "/authorized_keys", atomically: true, encoding: .utf8)
        let port = try freeLoopbackPort()
        try """
            HostKey \(hostKeyPath)
            AuthorizedKeysFile \(directory)/authorized_keys
            PidFile none
            StrictModes no
            ListenAddress 127.0.0.1
            UsePAM no

            """.write(toFile: directory + "/sshd_config", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        // ChildProcess starts sshd with an empty signal mask, so SIGTERM stops it.
        let process = try ChildProcess(
            executable: "/usr/sbin/sshd", arguments: ["-D", "-e", "-f", directory + "/sshd_config", "-p", "\(port)"])
        let server = LocalSSHServer(directory: directory, port: port, keys: keys, process: process)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    func stop() async {
        process.signal(SIGTERM)
        _ = await process.wait()
    }

    var endpoint: GuestEndpoint {
        GuestEndpoint(host: "127.0.0.1", port: port, username: "root",
                      credentials: .privateKey(path: keys.clientPrivateKeyPath), hostKey: .pinned(keys.hostPublicKeyLine))
    }

    /// Polls like the engine does until sshd is up (at most 10 s).
    func connect() async throws -> any GuestShell {
        var lastError: (any Error)?
        for _ in 0..<50 {
            do {
                return try await SSHGuestConnector().connect(endpoint)
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        throw lastError!
    }
}

@Suite(.enabled(if: ProcessInfo.processInfo.environment["KILN_INTEGRATION"] == "1" && getuid() == 0),
       .timeLimit(.minutes(1)), .serialized)
struct SSHGuestConnectorIntegrationTests {
    @Test func runsCommandsLineByLine() async throws {
        try await LocalSSHServer.with { server in
            let shell = try await server.connect()
            let recorder = LineRecorder()
            let status = try await shell.run("printf 'a\\r\\nb\\nlast'; echo oops >&2; exit 3", output: recorder.callback)
            #expect(status == 3)
            #expect(recorder.lines(.stdout) == ["a", "b", "last"])
            #expect(recorder.lines(.stderr) == ["oops"])
            await shell.close()
        }
    }

    @Test func uploadsKeepingTheHostFileMode() async throws {
        try await LocalSSHServer.with { server in
            let shell = try await server.connect()
            let source = server.directory + "/script.sh"
            try "#!/bin/sh\necho hi\n".write(toFile: source, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o750], ofItemAtPath: source)
            let kept = server.directory + "/guest dir/script.sh"
            try await shell.upload(file: source, to: kept, mode: nil)
            #expect(try FileManager.default.attributesOfItem(atPath: kept)[.posixPermissions] as? Int == 0o750)
            #expect(try String(contentsOfFile: kept, encoding: .utf8) == "#!/bin/sh\necho hi\n")
            let given = server.directory + "/guest dir/given"
            try await shell.upload(file: source, to: given, mode: 0o600)
            #expect(try FileManager.default.attributesOfItem(atPath: given)[.posixPermissions] as? Int == 0o600)
            await shell.close()
        }
    }

    @Test func aDroppedConnectionIsGuestDisconnected() async throws {
        try await LocalSSHServer.with { server in
            let shell = try await server.connect()
            await #expect(throws: GuestDisconnected.self) {
                _ = try await shell.run("kill -9 $PPID; sleep 10") { _, _ in }
            }
            await shell.close()
        }
    }

    @Test func aWrongKeyIsAClearSSHError() async throws {
        try await LocalSSHServer.with { server in
            _ = try await server.connect()
            var endpoint = server.endpoint
            let other = try GuestKeys().generate(in: server.directory + "/other")
            endpoint.credentials = .privateKey(path: other.clientPrivateKeyPath)
            await #expect {
                _ = try await SSHGuestConnector().connect(endpoint)
            } throws: { error in
                guard let error = error as? KilnError else { return false }
                return error.code == .ssh && error.message.contains("root") && error.message.contains("ssh-ed25519")
            }
            endpoint = server.endpoint
            endpoint.hostKey = .pinned(other.hostPublicKeyLine)
            await #expect {
                _ = try await SSHGuestConnector().connect(endpoint)
            } throws: { error in
                (error as? KilnError)?.message.contains(try! SSHFingerprint.sha256(ofPublicKeyLine: other.hostPublicKeyLine)) == true
            }
        }
    }
}
