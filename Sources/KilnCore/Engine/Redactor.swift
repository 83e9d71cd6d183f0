import Foundation

/// Masks the values of sensitive variables in any text shown or written.
public struct Redactor: Sendable {
    private let secrets: [String]

    public init(_ secrets: Set<String>) {
        // Each secret also as it reads inside a JSON string (the manifest), longest first, so that
        // a secret containing another is masked whole.
        let forms = secrets.filter { !$0.isEmpty }.flatMap { [$0, Self.jsonEscaped($0)] }
        self.secrets = Set(forms).sorted { $0.count > $1.count }
    }

    /// The error with its message and hint masked.
    public func callAsFunction(_ error: KilnError) -> KilnError {
        var masked = error
        masked.message = self(error.message)
        masked.hint = error.hint.map { self($0) }
        return masked
    }

    private static func jsonEscaped(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        guard let data = try? encoder.encode(text) else { return text }
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
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

    /// Every text field, step names included: a title can quote a template value.
    public func emit(_ event: BuildEvent) {
        switch event {
        case let .stepStarted(build, step):
            inner.emit(.stepStarted(build: build, step: redact(step)))
        case let .stepFinished(build, step, seconds):
            inner.emit(.stepFinished(build: build, step: redact(step), seconds: seconds))
        case let .stepFailed(build, step, seconds, error):
            inner.emit(.stepFailed(build: build, step: redact(step), seconds: seconds, error: redact(error)))
        case let .progress(build, step, done, total):
            inner.emit(.progress(build: build, step: redact(step), done: done, total: total))
        case let .output(build, step, stream, line):
            inner.emit(.output(build: build, step: redact(step), stream: stream, line: redact(line)))
        case let .info(build, message):
            inner.emit(.info(build: build, message: redact(message)))
        case let .warning(build, message):
            inner.emit(.warning(build: build, message: redact(message)))
        case let .cleanup(build, action, error):
            inner.emit(.cleanup(build: build, action: redact(action), error: error.map { redact($0) }))
        }
    }
}
