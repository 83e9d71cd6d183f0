import KilnCore
import KilnSSH
import Synchronization

/// Turns a command's output chunks into lines, per stream: `\n` ends a line, a `\r` before it
/// is dropped, and `flush()` emits a last line that has no newline. A line longer than
/// `maximumLineBytes` is emitted in pieces rather than buffered without bound.
final class OutputLineSplitter: Sendable {
    static let maximumLineBytes = 64 * 1024

    private let emit: @Sendable (BuildEvent.OutputStream, String) -> Void
    private let pending = Mutex<(stdout: [UInt8], stderr: [UInt8])>(([], []))

    init(_ emit: @escaping @Sendable (BuildEvent.OutputStream, String) -> Void) {
        self.emit = emit
    }

    func append(_ stream: SSHOutputStream, _ bytes: [UInt8]) {
        let target: BuildEvent.OutputStream = stream == .stderr ? .stderr : .stdout
        let lines = pending.withLock { buffers in
            if target == .stdout {
                return Self.takeLines(from: &buffers.stdout, appending: bytes)
            } else {
                return Self.takeLines(from: &buffers.stderr, appending: bytes)
            }
        }
        for line in lines { emit(target, line) }
    }

    func flush() {
        let rest = pending.withLock { buffers in
            defer { buffers = ([], []) }
            return buffers
        }
        if !rest.stdout.isEmpty { emit(.stdout, Self.decode(rest.stdout[...])) }
        if !rest.stderr.isEmpty { emit(.stderr, Self.decode(rest.stderr[...])) }
    }

    private static func takeLines(from buffer: inout [UInt8], appending bytes: [UInt8]) -> [String] {
        buffer += bytes
        var lines: [String] = []
        var start = 0
        while let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(decode(buffer[start..<newline]))
            start = newline + 1
        }
        while buffer.count - start > maximumLineBytes {
            lines.append(decode(buffer[start..<start + maximumLineBytes]))
            start += maximumLineBytes
        }
        buffer.removeFirst(start)
        return lines
    }

    private static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        let line = bytes.last == UInt8(ascii: "\r") ? bytes.dropLast() : bytes
        return String(decoding: line, as: UTF8.self)
    }
}
