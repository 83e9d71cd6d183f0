import Foundation

/// A second libvirtd on 127.0.0.1 over TCP, in a mount namespace of its own (scripts/lib/
/// remote-libvirtd.sh): its pools live in a private tmpfs that this process cannot see, so
/// whatever reaches them crossed the socket. Use `with`, which stops it even when the body throws.
public struct RemoteLibvirtd: Sendable {
    public let uri: String
    public let stateDirectory: String

    public static let script: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/scripts/lib/remote-libvirtd.sh"
    }()

    public static func start() async throws -> RemoteLibvirtd {
        let output = try await Self.run(["start"])
        var values: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        guard let uri = values["URI"], let state = values["STATE"] else {
            throw FixtureError("remote-libvirtd.sh start said:\n\(output)")
        }
        return RemoteLibvirtd(uri: uri, stateDirectory: state)
    }

    /// Starts a daemon, runs `body`, and stops the daemon (and every guest it runs) whatever happens.
    public static func with<T: Sendable>(_ body: (RemoteLibvirtd) async throws -> T) async throws -> T {
        let daemon = try await start()
        do {
            let result = try await body(daemon)
            try await daemon.stop()
            return result
        } catch {
            try? await daemon.stop()
            throw error
        }
    }

    public func stop() async throws {
        _ = try await Self.run(["stop", stateDirectory])
    }

    /// Stops libvirtd alone (SIGTERM: an orderly shutdown, as `systemctl restart` does; SIGKILL: a crash).
    public func killDaemon(signal: String = "TERM") async throws {
        _ = try await Self.run(["daemon-kill", stateDirectory, signal])
    }

    /// Starts libvirtd again in the same namespace (same pools, same running guests).
    public func startDaemon() async throws {
        _ = try await Self.run(["daemon-start", stateDirectory])
    }

    /// `virsh -c URI ARGS...` against this daemon; the output, or an error with it.
    public func virsh(_ arguments: [String]) async throws -> String {
        try await SpawnedCommand.run("/usr/bin/virsh", ["-c", uri] + arguments)
    }

    /// The names `virsh --name` lists (it pads them with spaces).
    public func names(_ arguments: [String]) async throws -> [String] {
        try await virsh(arguments).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A shell command inside the daemon's mount namespace (to look at what only it can see).
    public func insideNamespace(_ command: String) async throws -> String {
        let anchor = try String(contentsOfFile: stateDirectory + "/anchor.pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return try await SpawnedCommand.run("/usr/bin/nsenter", ["--mount=/proc/\(anchor)/ns/mnt", "--", "/bin/sh", "-c", command])
    }

    private static func run(_ arguments: [String]) async throws -> String {
        try await SpawnedCommand.run("/bin/bash", [script] + arguments)
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a command to its end with posix_spawn, default signal dispositions and an empty signal
/// mask (a Foundation `Process` child inherits the test runner's blocked signals, and so would
/// every daemon it starts). Output and errors are collected in a temporary file.
public enum SpawnedCommand {
    public static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runBlocking(executable, arguments) })
            }
        }
    }

    static func runBlocking(_ executable: String, _ arguments: [String]) throws -> String {
        let logPath = NSTemporaryDirectory() + "kiln-spawn-\(UUID().uuidString.prefix(8)).log"
        defer { unlink(logPath) }
        let log = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard log >= 0 else { throw FixtureError("cannot create \(logPath)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, log, 1)
        posix_spawn_file_actions_adddup2(&actions, log, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        close(log)
        guard spawned == 0 else { throw FixtureError("cannot start \(executable): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            throw FixtureError("\(executable) \(arguments.joined(separator: " ")) failed (status \(status)):\n\(output)")
        }
        return output
    }
}
