import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn and reaped by a blocking waitpid on its own thread.
///
/// Foundation's Process reaps through a SIGCHLD source and was seen to hang in waitUntilExit
/// when many children come and go in one process (tests running in parallel, libguestfs's qemu).
/// A blocking waitpid on the child's own pid cannot miss its exit. The child also starts with
/// default signal dispositions and an empty mask: kiln ignores SIGINT/SIGTERM itself (it turns
/// them into cancellation), and a child inheriting that could not be stopped with SIGTERM.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?
    private var waiters: [CheckedContinuation<Int32, Never>] = []

    /// `stdin`/`stdout`/`stderr`: file descriptors for the child (nil: /dev/null). They are
    /// duplicated into the child; the caller keeps and closes its own.
    public init(executable: String, arguments: [String], environment: [String: String]? = nil,
                currentDirectory: String? = nil, stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, target, flags) in [(stdin, Int32(0), O_RDONLY), (stdout, Int32(1), O_WRONLY), (stderr, Int32(2), O_WRONLY)] {
            if let fd {
                posix_spawn_file_actions_adddup2(&actions, fd, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", flags, 0)
            }
        }
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

        // posix_spawn has no portable chdir: a shell changes directory, then becomes the program.
        var command = [executable] + arguments
        if let currentDirectory {
            command = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", currentDirectory] + command
        }
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { env.forEach { free($0) } }

        var child: pid_t = 0
        let result = posix_spawn(&child, command[0], &actions, &attributes, argv, env)
        guard result == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO)
        }
        pid = child
        let thread = Thread { [self] in reap() }
        thread.name = "kiln-waitpid-\(child)"
        thread.start()
    }

    private func reap() {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG, spelled out (the macros do not import).
        let signal = status & 0x7f
        let code = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        let pending: [CheckedContinuation<Int32, Never>] = lock.withLock {
            exitStatus = code
            defer { waiters.removeAll() }
            return waiters
        }
        pending.forEach { $0.resume(returning: code) }
    }

    /// The exit status (128 + signal number when killed by a signal), once it exited.
    public var status: Int32? { lock.withLock { exitStatus } }
    public var isRunning: Bool { status == nil }

    public func signal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }

    public func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let done: Int32? = lock.withLock {
                if let exitStatus { return exitStatus }
                waiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}
