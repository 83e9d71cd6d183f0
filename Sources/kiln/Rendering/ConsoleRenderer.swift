import Foundation
import KilnCore

/// Renders build events for people: a live progress line on a terminal, plain timestamped lines
/// otherwise (CI logs), or one JSON object per line with --json.
final class ConsoleRenderer: EventSink, @unchecked Sendable {
    enum Mode { case live, plain, json }

    private let mode: Mode
    private let quiet: Bool
    private let lock = NSLock()
    private var liveLine = false
    private var lastProgress: [String: (percent: Int, at: Date)] = [:]
    private let timestamp: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter
    }()

    init(json: Bool, quiet: Bool) {
        self.quiet = quiet
        if json { mode = .json } else if isatty(STDOUT_FILENO) == 1 { mode = .live } else { mode = .plain }
    }

    func emit(_ event: BuildEvent) {
        lock.withLock {
            switch mode {
            case .json: writeJSON(event)
            case .live, .plain: writeText(event)
            }
        }
    }

    /// A line outside the event stream (errors, summaries), kept apart from a live progress line.
    func line(_ text: String, toStandardError: Bool = false) {
        lock.withLock {
            clearLiveLine()
            let handle = toStandardError ? FileHandle.standardError : FileHandle.standardOutput
            handle.write(Data((text + "\n").utf8))
        }
    }

    private func writeText(_ event: BuildEvent) {
        switch event {
        case let .stepStarted(build, step):
            put("==> \(build): \(step)")
        case let .stepFinished(build, step, seconds):
            if !quiet { put("    \(build): \(step) done in \(format(seconds))") }
        case let .stepFailed(build, step, seconds, _):
            put("!!! \(build): \(step) failed after \(format(seconds))")
        case let .progress(build, step, done, total):
            guard !quiet, let total, total > 0 else { return }
            let percent = Int(Double(done) * 100 / Double(total))
            if mode == .live {
                clearLiveLine()
                FileHandle.standardOutput.write(Data("    \(build): \(step) \(percent)%".utf8))
                liveLine = true
            } else {
                let key = build + step
                let previous = lastProgress[key]
                if previous == nil || percent - previous!.percent >= 25 || (percent == 100 && previous!.percent != 100) {
                    lastProgress[key] = (percent, Date())
                    put("    \(build): \(step) \(percent)%")
                }
            }
        case let .output(build, step, stream, line):
            if !quiet { put("    \(build): \(step)\(stream == .stderr ? " !" : " |") \(line)") }
        case let .info(build, message):
            if !quiet { put("    \(build): \(message)") }
        case let .warning(build, message):
            put("    \(build): WARNING: \(message)")
        case let .cleanup(build, action, error):
            if let error {
                put("    \(build): cleanup: \(action) FAILED: \(error)")
            } else if !quiet {
                put("    \(build): cleanup: \(action)")
            }
        }
    }

    private func put(_ text: String) {
        clearLiveLine()
        let prefix = mode == .plain ? timestamp.string(from: Date()) + " " : ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        FileHandle.standardOutput.write(Data(lines.map { prefix + $0 + "\n" }.joined().utf8))
    }

    private func clearLiveLine() {
        if liveLine {
            FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8))
            liveLine = false
        }
    }

    private func format(_ seconds: Double) -> String { String(format: "%.1f s", seconds) }

    private func writeJSON(_ event: BuildEvent) {
        var object: [String: Any] = ["time": timestamp.string(from: Date())]
        switch event {
        case let .stepStarted(build, step): object.merge(["event": "step_started", "build": build, "step": step]) { $1 }
        case let .stepFinished(build, step, seconds):
            object.merge(["event": "step_finished", "build": build, "step": step, "seconds": seconds]) { $1 }
        case let .stepFailed(build, step, seconds, error):
            object.merge(["event": "step_failed", "build": build, "step": step, "seconds": seconds, "error": error]) { $1 }
        case let .progress(build, step, done, total):
            object.merge(["event": "progress", "build": build, "step": step, "done": done]) { $1 }
            if let total { object["total"] = total }
        case let .output(build, step, stream, line):
            object.merge(["event": "output", "build": build, "step": step, "stream": stream.rawValue, "line": line]) { $1 }
        case let .info(build, message): object.merge(["event": "info", "build": build, "message": message]) { $1 }
        case let .warning(build, message): object.merge(["event": "warning", "build": build, "message": message]) { $1 }
        case let .cleanup(build, action, error):
            object.merge(["event": "cleanup", "build": build, "action": action]) { $1 }
            if let error { object["error"] = error }
        }
        writeJSONLine(object)
    }

    var isJSON: Bool { mode == .json }

    /// One JSON object outside the event stream (a build's summary), stamped like the events.
    func json(_ fields: [String: Any]) {
        lock.withLock { writeJSONLine(fields.merging(["time": timestamp.string(from: Date())]) { $1 }) }
    }

    private func writeJSONLine(_ object: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
}
