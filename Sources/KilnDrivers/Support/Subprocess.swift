import Foundation
import KilnCore

/// The outcome of a finished child process.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Runs host tools (qemu-img, mmdebstrap, ...) as `ChildProcess`es. Cancelling the calling task
/// terminates the child (SIGTERM, then SIGKILL after a grace period) and throws CancellationError.
public enum Subprocess {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var command: [String]
        public var status: Int32
        public var stderr: String
        public var description: String {
            let tail = stderr.split(separator: "\n").suffix(15).joined(separator: "\n")
            return "\(command.joined(separator: " ")) exited with status \(status)" + (tail.isEmpty ? "" : ":\n\(tail)")
        }
    }

    /// Finds an executable on PATH (absolute paths are returned as they are).
    public static func which(_ name: String) -> String? {
        if name.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        for dir in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"] {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs to completion; throws `Failure` on a non-zero status unless `check` is false.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String],
        environment: [String: String]? = nil,
        currentDirectory: String? = nil,
        stdin: Data? = nil,
        check: Bool = true,
        onStdoutLine: (@Sendable (String) -> Void)? = nil,
        onStderrLine: (@Sendable (String) -> Void)? = nil
    ) async throws -> ProcessResult {
        guard let path = which(executable) else {
            throw KilnError(.internal, "\(executable) is not installed", hint: "run scripts/setup as root")
        }
        try Task.checkCancellation()
        var merged = environment.map { ProcessInfo.processInfo.environment.merging($0) { _, new in new } }
        if merged == nil { merged = ProcessInfo.processInfo.environment }
        let (child, output, errors, input) = try spawn(path, arguments, environment: merged,
                                                       currentDirectory: currentDirectory, withStdin: stdin != nil)
        output.closeWriteEnd()
        errors.closeWriteEnd()
        input?.closeReadEnd()
        let outReader = PipeReader(FileHandle(fileDescriptor: output.readEnd, closeOnDealloc: true), onLine: onStdoutLine)
        let errReader = PipeReader(FileHandle(fileDescriptor: errors.readEnd, closeOnDealloc: true), onLine: onStderrLine)
        outReader.start()
        errReader.start()
        if let stdin, let input {
            let handle = FileHandle(fileDescriptor: input.writeEnd, closeOnDealloc: true)
            Thread.detachNewThread {
                try? handle.write(contentsOf: stdin)
                try? handle.close()
            }
        }
        let status: Int32 = await withTaskCancellationHandler {
            await child.wait()
        } onCancel: {
            child.signal(SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 5) { child.signal(SIGKILL) }
        }
        let out = outReader.finish(), err = errReader.finish()
        if Task.isCancelled { throw CancellationError() }
        let result = ProcessResult(status: status, stdout: out, stderr: err)
        if check && status != 0 {
            throw Failure(command: [executable] + arguments, status: status, stderr: result.stderrText)
        }
        return result
    }
}

extension Subprocess {
    /// Makes the pipes and spawns the child under one lock, so no concurrent spawn inherits them.
    static func spawn(_ path: String, _ arguments: [String], environment: [String: String]?, currentDirectory: String?,
                      withStdin: Bool) throws -> (ChildProcess, CloexecPipe, CloexecPipe, CloexecPipe?) {
        try CloexecPipe.spawnLock.withLock {
            let output = try CloexecPipe(), errors = try CloexecPipe()
            let input: CloexecPipe? = withStdin ? try CloexecPipe() : nil
            do {
                let child = try ChildProcess(executable: path, arguments: arguments, environment: environment,
                                             currentDirectory: currentDirectory, stdin: input?.readEnd,
                                             stdout: output.writeEnd, stderr: errors.writeEnd)
                return (child, output, errors, input)
            } catch {
                [output, errors].forEach { $0.closeBoth() }
                input?.closeBoth()
                throw KilnError(.internal, "cannot start \(path): \(error)")
            }
        }
    }
}

/// A pipe whose ends are close-on-exec, so that no other child inherits them and keeps the
/// reader from seeing end-of-file (posix_spawn's dup2 clears the flag on the child's copy).
struct CloexecPipe {
    static let spawnLock = NSLock()
    let readEnd: Int32
    let writeEnd: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    func closeWriteEnd() { close(writeEnd) }
    func closeReadEnd() { close(readEnd) }
    func closeBoth() {
        close(readEnd)
        close(writeEnd)
    }
}

/// Reads a pipe to its end on its own thread, optionally calling back for each line.
private final class PipeReader: @unchecked Sendable {
    private let handle: FileHandle
    private let onLine: (@Sendable (String) -> Void)?
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()

    init(_ handle: FileHandle, onLine: (@Sendable (String) -> Void)?) {
        self.handle = handle
        self.onLine = onLine
    }

    func start() {
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                lock.withLock { data.append(chunk) }
                if let onLine {
                    pending.append(chunk)
                    while let newline = pending.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) {
                        let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                        pending.removeSubrange(pending.startIndex...newline)
                        if !line.isEmpty { onLine(line) }
                    }
                }
            }
            if let onLine, !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
            done.signal()
        }
    }

    func finish() -> Data {
        done.wait()
        return lock.withLock { data }
    }
}
