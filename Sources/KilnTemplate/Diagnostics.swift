import Foundation

/// One problem found in a template, a variable file or the command line.
public struct TemplateDiagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is; nil only for command-line problems.
    public var location: SourceLocation?
    /// The field concerned, as a path: "builds[0].machine.cpus", or "--var" for the command line.
    public var field: String
    public var message: String

    public init(location: SourceLocation?, field: String, message: String) {
        self.location = location
        self.field = field
        self.message = message
    }

    /// "FILE:LINE:COL: FIELD: MESSAGE", or "FIELD: MESSAGE" without a location.
    public var description: String {
        if let location { return "\(location): \(field): \(message)" }
        return "\(field): \(message)"
    }
}

/// Every problem found while loading a template, sorted by position.
public struct TemplateErrors: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [TemplateDiagnostic]

    public init(diagnostics: [TemplateDiagnostic]) {
        self.diagnostics = Self.sortedAndUnique(diagnostics)
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }

    /// Command-line problems first, then by file, line and column; the order of discovery otherwise.
    static func sortedAndUnique(_ diagnostics: [TemplateDiagnostic]) -> [TemplateDiagnostic] {
        var seen = Set<String>()
        let unique = diagnostics.filter { seen.insert($0.description).inserted }
        return unique.enumerated().sorted { a, b in
            let (la, lb) = (a.element.location, b.element.location)
            switch (la, lb) {
            case (nil, nil): return a.offset < b.offset
            case (nil, _): return true
            case (_, nil): return false
            case let (x?, y?):
                if x.file != y.file { return x.file < y.file }
                if x.line != y.line { return x.line < y.line }
                if x.column != y.column { return x.column < y.column }
                return a.offset < b.offset
            }
        }.map(\.element)
    }
}

/// Collects diagnostics as decoding goes on, so that all of them are reported at once.
final class DiagnosticSink {
    private(set) var diagnostics: [TemplateDiagnostic] = []

    var isEmpty: Bool { diagnostics.isEmpty }

    func report(_ location: SourceLocation?, _ field: String, _ message: String) {
        diagnostics.append(TemplateDiagnostic(location: location, field: field, message: message))
    }
}
