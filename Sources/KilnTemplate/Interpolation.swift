/// `${...}` references in template strings, and their expansion.
///
/// `${var.NAME}`, `${env.NAME}`, `${build.name}`, `${build.timestamp}`, `${template.dir}`;
/// `$${` stands for a literal `${`. Any other `$` is kept as it is (shell variables stay intact).
enum Reference: Equatable {
    case variable(String)
    case environment(String)
    case buildName
    case buildTimestamp
    case templateDirectory

    static let forms = "var.NAME, env.NAME, build.name, build.timestamp or template.dir"

    init(parsing expression: String) throws(Message) {
        let text = expression.trimmingWhitespace()
        if text.hasPrefix("var.") {
            let name = String(text.dropFirst(4))
            guard Self.isName(name) else { throw "'${\(expression)}' is not a valid variable reference" }
            self = .variable(name)
        } else if text.hasPrefix("env.") {
            let name = String(text.dropFirst(4))
            guard Self.isName(name) else { throw "'${\(expression)}' is not a valid environment reference" }
            self = .environment(name)
        } else if text == "build.name" {
            self = .buildName
        } else if text == "build.timestamp" {
            self = .buildTimestamp
        } else if text == "template.dir" {
            self = .templateDirectory
        } else {
            throw "unknown reference '${\(expression)}'; expected \(Self.forms) (write $${ for a literal ${)"
        }
    }

    static func isName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }
}

enum Piece: Equatable {
    case literal(String)
    case reference(Reference)
}

enum Interpolation {
    /// Splits a string into literal text and references.
    static func pieces(_ text: String) throws(Message) -> [Piece] {
        var pieces: [Piece] = []
        var literal = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            literal += rest[..<dollar]
            let after = rest[dollar...]
            if after.hasPrefix("$${") {
                literal += "${"
                rest = after.dropFirst(3)
            } else if after.hasPrefix("${") {
                guard let close = after.firstIndex(of: "}") else {
                    throw "unterminated '${' (escape a literal '${' as '$${')"
                }
                let expression = String(after[after.index(after.startIndex, offsetBy: 2)..<close])
                if !literal.isEmpty { pieces.append(.literal(literal)) }
                literal = ""
                pieces.append(.reference(try Reference(parsing: expression)))
                rest = after[after.index(after: close)...]
            } else {
                literal += "$"
                rest = after.dropFirst()
            }
        }
        literal += rest
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        return pieces
    }

    static func expand(_ text: String, _ lookup: (Reference) throws(Message) -> String) throws(Message) -> String {
        var result = ""
        for piece in try pieces(text) {
            switch piece {
            case .literal(let literal): result += literal
            case .reference(let reference): result += try lookup(reference)
            }
        }
        return result
    }
}

/// Expands strings once every variable has its value.
struct Interpolator {
    /// Values of the declared variables (those in error hold "" so that they are reported once).
    var variables: [String: String]
    var environment: [String: String]
    /// Unix seconds.
    var timestamp: String
    var templateDirectory: String

    func expand(_ text: String, buildName: String?) -> Result<String, Message> {
        Result { () throws(Message) -> String in
            try Interpolation.expand(text) { (reference) throws(Message) -> String in
                try value(of: reference, buildName: buildName)
            }
        }
    }

    func value(of reference: Reference, buildName: String?) throws(Message) -> String {
        switch reference {
        case .variable(let name):
            guard let value = variables[name] else {
                throw "unknown variable '\(name)'\(Suggestion.didYouMean(name, among: variables.keys.sorted()))"
            }
            return value
        case .environment(let name):
            guard let value = environment[name] else {
                throw "environment variable '\(name)' is not set"
            }
            return value
        case .buildName:
            guard let buildName else { throw "${build.name} is only available inside a build" }
            return buildName
        case .buildTimestamp:
            return timestamp
        case .templateDirectory:
            return templateDirectory
        }
    }
}
