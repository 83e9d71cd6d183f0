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

/// Runs host tools (qemu-img, mmdebstrap, ...). Cancelling the calling task terminates the
/// child (SIGTERM, then SIGKILL after a grace period) and throws CancellationError.
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        let inPipe: Pipe? = stdin == nil ? nil : Pipe()
        process.standardInput = inPipe ?? FileHandle.nullDevice

        let outReader = PipeReader(outPipe.fileHandleForReading, onLine: onStdoutLine)
        let errReader = PipeReader(errPipe.fileHandleForReading, onLine: onStderrLine)
        let exited = ExitWaiter()
        process.terminationHandler = { p in exited.finish(p.terminationStatus) }

        try process.run()
        outReader.start()
        errReader.start()
        if let stdin, let inPipe {
            let handle = inPipe.fileHandleForWriting
            Thread.detachNewThread {
                try? handle.write(contentsOf: stdin)
                try? handle.close()
            }
        }
        let pid = process.processIdentifier
        let status: Int32 = await withTaskCancellationHandler {
            await exited.wait()
        } onCancel: {
            kill(pid, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 5) {
                if !exited.isFinished { kill(pid, SIGKILL) }
            }
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

/// Bridges Process.terminationHandler to async code.
private final class ExitWaiter: @unchecked Sendable {
    private let lock = NSLock()
    private var status: Int32?
    private var waiter: CheckedContinuation<Int32, Never>?

    var isFinished: Bool { lock.withLock { status != nil } }

    func finish(_ code: Int32) {
        let continuation: CheckedContinuation<Int32, Never>? = lock.withLock {
            status = code
            defer { waiter = nil }
            return waiter
        }
        continuation?.resume(returning: code)
    }

    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let ready: Int32? = lock.withLock {
                if let status { return status }
                waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
