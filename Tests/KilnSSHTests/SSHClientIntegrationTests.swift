import Foundation
import Synchronization
import Testing
@testable import KilnSSH

/// Collects a command's output chunks with their arrival time.
final class OutputRecorder: Sendable {
    private let chunks = Mutex<[(stream: SSHOutputStream, bytes: [UInt8], at: ContinuousClock.Instant)]>([])

    var callback: @Sendable (SSHOutputStream, [UInt8]) -> Void {
        { stream, bytes in self.chunks.withLock { $0.append((stream, bytes, .now)) } }
    }

    func text(_ stream: SSHOutputStream) -> String {
        chunks.withLock { String(decoding: $0.filter { $0.stream == stream }.flatMap(\.bytes), as: UTF8.self) }
    }

    func firstArrival(_ stream: SSHOutputStream) -> ContinuousClock.Instant? {
        chunks.withLock { $0.first { $0.stream == stream }?.at }
    }
}

@Suite(.enabled(if: integrationEnabled && getuid() == 0), .timeLimit(.minutes(1)), .serialized)
struct SSHClientIntegrationTests {
    @Test func runsACommand() async throws {
        try await SSHServerFixture.withSSHServer { server in
            let client = try await server.connect()
            defer { Task { await client.close() } }
            #expect(client.serverHostKey.hasPrefix(server.hostKey.publicKeyLine.split(separator: " ")[0...1].joined(separator: " ")))
            let output = OutputRecorder()
            let status = try await client.run(command: "echo out; echo err >&2; whoami", onOutput: output.callback)
            #expect(status == 0)
            #expect(output.text(.stdout) == "out\nroot\n")
            #expect(output.text(.stderr) == "err\n")
            #expect(try await client.run(command: "exit 7") == 7)
            #expect(try await client.run(command: "kill -TERM $$") == 128 + 15)
        }
    }

    @Test func passesStandardInput() async throws {
        try await SSHServerFixture.withSSHServer { server in
            let client = try await server.connect()
            defer { Task { await client.close() } }
            let output = OutputRecorder()
            let status = try await client.run(command: "tr a-z A-Z", stdin: .bytes(Array("hello\n".utf8)),
                                              onOutput: output.callback)
            #expect(status == 0)
            #expect(output.text(.stdout) == "HELLO\n")
            // Without input the command sees end-of-file at once rather than hanging.
            #expect(try await client.run(command: "cat") == 0)
        }
    }

    @Test func streamsOutputAsItArrives() async throws {
        try await SSHServerFixture.withSSHServer { server in
            let client = try await server.connect()
            defer { Task { await client.close() } }
            let output = OutputRecorder()
            let status = try await client.run(
                command: "for i in 1 2 3 4 5; do echo line$i; sleep 0.3; done", onOutput: output.callback)
            let finished = ContinuousClock.now
            #expect(status == 0)
            #expect(output.text(.stdout) == "line1\nline2\nline3\nline4\nline5\n")
            let first = try #require(output.firstArrival(.stdout))
            #expect(finished - first > .milliseconds(900))
        }
    }

    @Test func runsCommandsConcurrently() async throws {
        try await SSHServerFixture.withSSHServer { server in
            let client = try await server.connect()
            defer { Task { await client.close() } }
            let start = ContinuousClock.now
            let statuses = try await withThrowingTaskGroup(of: Int32.self) { group in
                for index in 0..<6 {
                    group.addTask { try await client.run(command: "sleep 1; exit \(index)") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.sorted() == [0, 1, 2, 3, 4, 5])
            #expect(ContinuousClock.now - start < .seconds(4))
        }
    }

    @Test func uploadsFilesWithTheirMode() async throws {
        try await SSHServerFixture.withSSHServer { server in
            let client = try await server.connect()
            defer { Task { await client.close() } }
            let target = server.directory.file("new dir/it's a file.txt")
            try await client.upload(data: Array("hello\n".utf8), to: target, mode: 0o640)
            #expect(try String(contentsOfFile: target, encoding: .utf8) == "hello\n")
            #expect(try FileManager.default.attributesOfItem(atPath: target)[.posixPermissions] as? Int == 0o640)

            // 50 MB streamed from a file.
            let source = server.directory.file("big source")
            try makeFile(at: source, megabytes: 50)
            let bigTarget = server.directory.file("dest dir/big copy")
            try await client.upload(file: source, to: bigTarget, mode: 0o755)
            #expect(try sameContent(source, bigTarget))
            #expect(try FileManager.default.attributesOfItem(atPath: bigTarget)[.posixPermissions] as? Int == 0o755)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: server.directory.file("dest dir"))
            #expect(leftovers == ["big copy"])
        }
    }

    @Test func reportsUploadFailures() async throws {
        try await SSHServerFixture.withSSHServer { server in
            let client = try await server.connect()
            defer { Task { await client.close() } }
            let blocker = server.directory.file("a file")
            _ = FileManager.default.createFile(atPath: blocker, contents: Data())
            await #expect {
                try await client.upload(data: [1], to: blocker + "/below", mode: 0o644)
            } throws: { error in
                guard case SSHClientError.uploadFailed(_, let status, let stderr) = error else { return false }
                return status != 0 && stderr.contains("mkdir")
            }
            await #expect(throws: SSHClientError.self) {
                try await client.upload(file: server.directory.file("missing"), to: server.directory.file("x"), mode: 0o644)
            }
        }
    }

    @Test func rejectsAnotherHostKeyNamingBothFingerprints() async throws {
        try await SSHServerFixture.withSSHServer { server in
            let other = SSHKeyPair.generate()
            await #expect(throws: SSHClientError.hostKeyMismatch(
                expectedFingerprint: other.fingerprint, presentedFingerprint: server.hostKey.fingerprint)) {
                try await server.connect(hostKey: .pinned(other.publicKeyLine))
            }
            let client = try await server.connect(hostKey: .acceptAny)
            #expect(try SSHFingerprint.sha256(ofPublicKeyLine: client.serverHostKey) == server.hostKey.fingerprint)
            await client.close()
        }
    }

    @Test func reportsAuthenticationFailures() async throws {
        try await SSHServerFixture.withSSHServer { server in
            let stranger = SSHKeyPair.generate()
            await #expect {
                try await server.connect(auth: .privateKey(stranger))
            } throws: { error in
                guard case SSHClientError.authenticationFailed(let user, let method, let methods) = error else { return false }
                return user == "root" && method.contains("ssh-ed25519 \(stranger.fingerprint)") && methods.contains("publickey")
            }
            await #expect {
                try await server.connect(username: "nobody", auth: .password("wrong"))
            } throws: { error in
                guard case SSHClientError.authenticationFailed("nobody", "password", _) = error else { return false }
                return true
            }
        }
    }

    @Test func refusedConnectionsFailFast() async throws {
        let port = try freeLoopbackPort()
        let start = ContinuousClock.now
        await #expect(throws: SSHClientError.connectionRefused(host: "127.0.0.1", port: port)) {
            try await SSHClient.connect(host: "127.0.0.1", port: port, username: "root",
                                        auth: .password("x"), hostKey: .acceptAny)
        }
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test func serversThatNeverSpeakTimeOut() async throws {
        // A listener that accepts and says nothing, like a port forward to a guest still booting.
        let listener = try SilentListener()
        defer { listener.close() }
        let start = ContinuousClock.now
        await #expect(throws: SSHClientError.timedOut(host: "127.0.0.1", port: listener.port, stage: .handshake, seconds: 0.5)) {
            try await SSHClient.connect(host: "127.0.0.1", port: listener.port, username: "root", auth: .password("x"),
                                        hostKey: .acceptAny, handshakeTimeout: .milliseconds(500))
        }
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test func cancellingARunningCommandReturnsWithoutWaitingForIt() async throws {
        try await SSHServerFixture.withSSHServer { server in
            let client = try await server.connect()
            defer { Task { await client.close() } }
            let output = OutputRecorder()
            let run = Task { try await client.run(command: "echo started; sleep 40", onOutput: output.callback) }
            for _ in 0..<200 where output.text(.stdout).isEmpty { try await Task.sleep(for: .milliseconds(50)) }
            #expect(output.text(.stdout) == "started\n")
            run.cancel()
            // A server may answer the channel close only once the command exits: the client must not wait for that.
            await #expect(throws: CancellationError.self) {
                try await withDeadline(seconds: 10) { try await run.value }
            }
            #expect(try await client.run(command: "true") == 0, "the connection should still serve commands")
        }
    }

    @Test func reportsADroppedConnectionAsDisconnected() async throws {
        try await SSHServerFixture.withSSHServer { server in
            let client = try await server.connect()
            defer { Task { await client.close() } }
            let output = OutputRecorder()
            await #expect(throws: SSHClientError.disconnected) {
                try await withDeadline(seconds: 20) {
                    // $PPID is the sshd process serving this connection.
                    try await client.run(command: "echo before; sleep 0.5; kill -9 $PPID; sleep 10", onOutput: output.callback)
                }
            }
            #expect(output.text(.stdout) == "before\n")
            await #expect(throws: SSHClientError.self) { try await client.run(command: "true") }
        }
    }
}

/// Writes `megabytes` MiB of varied bytes.
func makeFile(at path: String, megabytes: Int) throws {
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    var block = [UInt8](repeating: 0, count: 1 << 20)
    for index in 0..<megabytes {
        for offset in stride(from: 0, to: block.count, by: 8) {
            block[offset] = UInt8(truncatingIfNeeded: index &* 31 &+ offset / 8)
        }
        try handle.write(contentsOf: block)
    }
}

func sameContent(_ first: String, _ second: String) throws -> Bool {
    let a = try FileHandle(forReadingFrom: URL(fileURLWithPath: first))
    let b = try FileHandle(forReadingFrom: URL(fileURLWithPath: second))
    defer {
        try? a.close()
        try? b.close()
    }
    while true {
        let chunkA = try a.read(upToCount: 1 << 20) ?? Data()
        let chunkB = try b.read(upToCount: 1 << 20) ?? Data()
        if chunkA != chunkB { return false }
        if chunkA.isEmpty { return true }
    }
}

/// Accepts TCP connections on 127.0.0.1 and never writes.
final class SilentListener: @unchecked Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { Glibc.close(fd); throw POSIXError(.EADDRINUSE) }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() {
        Glibc.close(fd)
    }
}
