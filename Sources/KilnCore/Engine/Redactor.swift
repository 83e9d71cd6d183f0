import Foundation

/// Masks the values of sensitive variables in any text shown or written.
public struct Redactor: Sendable {
    private let secrets: [String]

    public init(_ secrets: Set<String>) {
        // Longest first, so a secret containing another is masked whole.
        self.secrets = secrets.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

    public func callAsFunction(_ text: String) -> String {
        guard !secrets.isEmpty else { return text }
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "<sensitive>")
        }
        return result
    }
}

/// An event sink that masks secrets before passing events on.
public struct RedactingEventSink: EventSink {
    let inner: any EventSink
    let redact: Redactor

    public init(_ inner: any EventSink, redactor: Redactor) {
        self.inner = inner
        self.redact = redactor
    }

    public func emit(_ event: BuildEvent) {
        switch event {
        case let .output(build, step, stream, line):
            inner.emit(.output(build: build, step: step, stream: stream, line: redact(line)))
        case let .info(build, message):
            inner.emit(.info(build: build, message: redact(message)))
        case let .warning(build, message):
            inner.emit(.warning(build: build, message: redact(message)))
        case let .stepFailed(build, step, seconds, error):
            inner.emit(.stepFailed(build: build, step: step, seconds: seconds, error: redact(error)))
        case let .cleanup(build, action, error):
            inner.emit(.cleanup(build: build, action: action, error: error.map { redact($0) }))
        default:
            inner.emit(event)
        }
    }
}
