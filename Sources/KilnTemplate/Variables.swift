import Foundation
import Yams

/// A variable as declared under `variables:`, before it has a value.
struct VariableDeclaration {
    var name: String
    var type: VariableType
    var description: String?
    var sensitive: Bool
    /// The default's text, not yet interpolated, and where it is.
    var defaultText: (text: String, node: Node)?
    var keyNode: Node
    var location: SourceLocation
}

/// Where a variable's value came from, to point at it when it is wrong.
enum ValueOrigin {
    case defaultValue(Node)
    case environment(String)
    case file(SourceLocation)
    case commandLine
}

extension Decoding {
    static let variableKeys = ["type", "default", "description", "sensitive"]

    /// `variables:` — each name maps to a mapping, to a plain value (its default) or to nothing.
    func variableDeclarations(_ entry: Entry?) -> [VariableDeclaration] {
        guard let entry, !isNull(entry.value) else { return [] }
        guard case .mapping(let mapping) = entry.value else {
            typeMismatch(entry.value, entry.path, expected: "a mapping of variable names to declarations")
            return []
        }
        var declarations: [VariableDeclaration] = []
        for (keyNode, value) in mapping {
            guard let name = rawScalar(keyNode, entry.path, expected: "a variable name") else { continue }
            let path = Self.child(entry.path, name)
            guard Reference.isName(name) else {
                report(keyNode, path, "'\(name)' is not a valid variable name: use letters, digits and _, not starting with a digit")
                continue
            }
            var declaration = VariableDeclaration(name: name, type: .string, description: nil, sensitive: false,
                                                  defaultText: nil, keyNode: keyNode, location: location(keyNode))
            switch value {
            case .scalar where isNull(value):
                break
            case .scalar(let scalar):
                declaration.defaultText = (scalar.string, value)
            default:
                guard let fields = fields(value, path, allowed: Self.variableKeys) else { continue }
                if let typeEntry = fields["type"], let text = rawScalar(typeEntry.value, typeEntry.path, expected: "a type") {
                    declaration.type = choice(text, typeEntry.value, typeEntry.path, VariableType.self) ?? .string
                }
                if let defaultEntry = fields["default"], !isNull(defaultEntry.value) {
                    if let text = rawScalar(defaultEntry.value, defaultEntry.path, expected: "a string, number or boolean") {
                        declaration.defaultText = (text, defaultEntry.value)
                    }
                }
                if let descriptionEntry = fields["description"] {
                    declaration.description = rawScalar(descriptionEntry.value, descriptionEntry.path, expected: "a string")
                }
                if let sensitiveEntry = fields["sensitive"], let text = rawScalar(sensitiveEntry.value, sensitiveEntry.path, expected: "true or false") {
                    if let flag = Self.parseBool(text) {
                        declaration.sensitive = flag
                    } else {
                        report(sensitiveEntry.value, sensitiveEntry.path, "expected true or false, found '\(text.prefix(40))'")
                    }
                }
            }
            declarations.append(declaration)
        }
        return declarations
    }
}

/// Gives every declared variable its value: the default, then KILN_VAR_<name>, then `--var-file`s in
/// order, then `--var`s in order (the last one wins, as in Packer). Defaults may use other variables.
struct VariableResolver {
    var declarations: [VariableDeclaration]
    /// Values given from outside the template, in increasing precedence.
    var overrides: [(name: String, value: String, origin: ValueOrigin)]
    var decoding: Decoding

    private enum State { case resolving, resolved(String), failed }
    static let maximumDepth = 50

    /// Values by name; a variable in error maps to "" (its error has been reported).
    func resolve() -> [String: String] {
        var explicit: [String: (value: String, origin: ValueOrigin)] = [:]
        for override in overrides { explicit[override.name] = (override.value, override.origin) }
        var states: [String: State] = [:]
        let byName = Dictionary(declarations.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

        func resolve(_ name: String, chain: [String]) -> String? {
            switch states[name] {
            case .resolved(let value): return value
            case .failed: return nil
            case .resolving:
                let cycle = chain[chain.firstIndex(of: name)!...] + [name]
                if let start = byName[name]?.defaultText?.node {
                    decoding.report(start, "variables.\(name).default", "variable cycle: \(cycle.joined(separator: " -> "))")
                }
                for member in cycle { states[member] = .failed }
                return nil
            case nil: break
            }
            guard let declaration = byName[name] else { return nil }
            if chain.count >= Self.maximumDepth, let node = declaration.defaultText?.node ?? Optional(declaration.keyNode) {
                decoding.report(node, "variables.\(name).default",
                                "variable defaults refer to each other more than \(Self.maximumDepth) levels deep")
                states[name] = .failed
                return nil
            }
            states[name] = .resolving
            let value: String
            let origin: ValueOrigin
            if let given = explicit[name] {
                (value, origin) = (given.value, given.origin)
            } else if let (text, node) = declaration.defaultText {
                origin = .defaultValue(node)
                let expanded = Result { () throws(Message) -> String in
                    try Interpolation.expand(text) { (reference) throws(Message) -> String in
                        if case .variable(let other) = reference {
                            guard byName[other] != nil else {
                                throw "unknown variable '\(other)'\(Suggestion.didYouMean(other, among: byName.keys.sorted()))"
                            }
                            guard let value = resolve(other, chain: chain + [name]) else { throw Message("") }
                            return value
                        }
                        return try decoding.interpolator.value(of: reference, buildName: nil)
                    }
                }
                switch expanded {
                case .success(let text): value = text
                case .failure(let message):
                    if !message.text.isEmpty { decoding.report(node, "variables.\(name).default", message) }
                    if case .resolving = states[name] { states[name] = .failed }
                    return nil
                }
            } else {
                decoding.report(declaration.keyNode, "variables.\(name)",
                                Message("has no value; give one with --var \(name)=VALUE, in a --var-file, "
                                + "or in the environment as KILN_VAR_\(name)"))
                states[name] = .failed
                return nil
            }
            if case .failed = states[name] { return nil }
            guard let checked = check(value, of: declaration, from: origin) else {
                states[name] = .failed
                return nil
            }
            states[name] = .resolved(checked)
            return checked
        }

        var values: [String: String] = [:]
        for declaration in declarations {
            values[declaration.name] = resolve(declaration.name, chain: []) ?? ""
        }
        return values
    }

    /// The value, normalised for its type, or nil after reporting a mismatch where the value came from.
    private func check(_ value: String, of declaration: VariableDeclaration, from origin: ValueOrigin) -> String? {
        let normalised: String?
        switch declaration.type {
        case .string:
            normalised = value
        case .number:
            let trimmed = value.trimmingWhitespace()
            normalised = Double(trimmed).flatMap { $0.isFinite && !trimmed.lowercased().contains("n") ? trimmed : nil }
        case .bool:
            normalised = Decoding.parseBool(value).map { $0 ? "true" : "false" }
        }
        if let normalised { return normalised }
        let expected = declaration.type == .number ? "a number" : "true or false"
        let shown = declaration.sensitive ? "a value" : "'\(value.prefix(40))'"
        let message = "variable '\(declaration.name)' is of type \(declaration.type.rawValue): expected \(expected), found \(shown)"
        switch origin {
        case .defaultValue(let node): decoding.report(node, "variables.\(declaration.name).default", Message(message))
        case .environment(let key): decoding.sink.report(nil, key, message)
        case .file(let location): decoding.sink.report(location, declaration.name, message)
        case .commandLine: decoding.sink.report(nil, "--var", message)
        }
        return nil
    }
}
