import Foundation
import Yams

/// One key of a mapping with its value, and the field path of that value.
struct Entry {
    var key: String
    var keyNode: Node
    var value: Node
    var path: String
}

/// A mapping whose keys were checked against the keys allowed there.
struct Fields {
    var node: Node
    var path: String
    var entries: [Entry]

    subscript(key: String) -> Entry? { entries.first { $0.key == key } }

    func has(_ key: String) -> Bool { self[key] != nil }

    /// `defaults` under `self`: keys of `self` win; the keys listed in `deep` are merged one level down.
    func merged(under defaults: Fields, deep: Set<String>, decoding: Decoding) -> Fields {
        var result = self
        for base in defaults.entries {
            guard let index = result.entries.firstIndex(where: { $0.key == base.key }) else {
                result.entries.append(base)
                continue
            }
            let own = result.entries[index]
            guard deep.contains(base.key), !decoding.isNull(base.value),
                  case .mapping(var ownMapping) = own.value, case .mapping(let baseMapping) = base.value else { continue }
            for (key, value) in baseMapping where ownMapping[key] == nil {
                ownMapping[key] = value
            }
            result.entries[index].value = .mapping(ownMapping)
        }
        return result
    }
}

extension Decoding {
    func kind(of node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar:
            if isNull(node) { return "null" }
            if node.scalar?.style == .plain, node.int != nil || node.float != nil { return "a number" }
            if node.scalar?.style == .plain, ["true", "false"].contains(node.scalar?.string.lowercased()) {
                return "a boolean"
            }
            return "a string"
        }
    }

    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    func typeMismatch(_ node: Node, _ path: String, expected: String) {
        report(node, path, "expected \(expected), found \(kind(of: node))")
    }

    /// The mapping's entries, after reporting unknown keys (with a suggestion) and non-string keys.
    /// Null stands for an empty mapping.
    func fields(_ node: Node, _ path: String, allowed: [String]) -> Fields? {
        if isNull(node) { return Fields(node: node, path: path, entries: []) }
        guard case .mapping(let mapping) = node else {
            typeMismatch(node, path, expected: "a mapping")
            return nil
        }
        var entries: [Entry] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                report(keyNode, path, "keys must be plain strings, found \(kind(of: keyNode))")
                continue
            }
            let key = scalar.string
            guard allowed.contains(key) else {
                report(keyNode, path, "unknown key '\(key)'\(Suggestion.didYouMean(key, among: allowed))")
                continue
            }
            entries.append(Entry(key: key, keyNode: keyNode, value: value, path: Self.child(path, key)))
        }
        return Fields(node: node, path: path, entries: entries)
    }

    func required(_ fields: Fields, _ key: String) -> Entry? {
        if let entry = fields[key] { return entry }
        report(fields.node, Self.child(fields.path, key), "required key is missing")
        return nil
    }

    /// List items with their paths; a single value where a list is expected is refused.
    func list(_ node: Node, _ path: String) -> [(node: Node, path: String)]? {
        guard case .sequence(let sequence) = node else {
            typeMismatch(node, path, expected: "a list")
            return nil
        }
        return sequence.enumerated().map { ($0.element, Self.element(path, $0.offset)) }
    }

    /// A scalar's text, not interpolated.
    func rawScalar(_ node: Node, _ path: String, expected: String) -> String? {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            typeMismatch(node, path, expected: expected)
            return nil
        }
        return scalar.string
    }

    /// A scalar's text after interpolation.
    func string(_ node: Node, _ path: String, expected: String = "a string") -> String? {
        guard let raw = rawScalar(node, path, expected: expected) else { return nil }
        switch interpolator.expand(raw, buildName: buildName) {
        case .success(let value): return value
        case .failure(let message):
            report(node, path, message)
            return nil
        }
    }

    func string(_ entry: Entry?) -> String? {
        guard let entry else { return nil }
        return string(entry.value, entry.path)
    }

    /// A string that must not be empty.
    func nonEmptyString(_ entry: Entry?) -> String? {
        guard let entry, let value = string(entry) else { return nil }
        if value.isEmpty {
            report(entry.value, entry.path, "must not be empty")
            return nil
        }
        return value
    }

    /// A string, or a list of strings.
    func strings(_ entry: Entry) -> [String]? {
        if case .sequence = entry.value {
            guard let items = list(entry.value, entry.path) else { return nil }
            let values = items.map { string($0.node, $0.path) }
            return values.contains(where: { $0 == nil }) ? nil : values.compactMap { $0 }
        }
        return string(entry.value, entry.path, expected: "a string or a list of strings").map { [$0] }
    }

    /// A string or a list of strings, each with its own node and path.
    func stringItems(_ entry: Entry) -> [(text: String, node: Node, path: String)]? {
        if case .sequence = entry.value {
            guard let items = list(entry.value, entry.path) else { return nil }
            let values = items.map { item in string(item.node, item.path).map { ($0, item.node, item.path) } }
            return values.contains(where: { $0 == nil }) ? nil : values.compactMap { $0 }
        }
        return string(entry.value, entry.path, expected: "a string or a list of strings").map { [($0, entry.value, entry.path)] }
    }

    func stringMap(_ entry: Entry) -> [String: String]? {
        guard case .mapping(let mapping) = entry.value else {
            if isNull(entry.value) { return [:] }
            typeMismatch(entry.value, entry.path, expected: "a mapping of names to strings")
            return nil
        }
        var result: [String: String] = [:]
        var failed = false
        for (keyNode, value) in mapping {
            guard let key = rawScalar(keyNode, entry.path, expected: "a string key") else { failed = true; continue }
            guard let text = string(value, Self.child(entry.path, key)) else { failed = true; continue }
            result[key] = text
        }
        return failed ? nil : result
    }

    func integer(_ entry: Entry?, range: ClosedRange<Int>) -> Int? {
        guard let entry, let text = string(entry.value, entry.path, expected: "an integer") else { return nil }
        return integer(text, entry, range: range)
    }

    func integer(_ text: String, _ entry: Entry, range: ClosedRange<Int>) -> Int? {
        let trimmed = text.trimmingWhitespace()
        let outOfRange = "is out of range: must be between \(range.lowerBound) and \(range.upperBound)"
        guard let value = Int(trimmed) else {
            // All digits yet no Int: too many of them.
            let digits = trimmed.hasPrefix("-") || trimmed.hasPrefix("+") ? trimmed.dropFirst() : Substring(trimmed)
            if !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) {
                report(entry.value, entry.path, "\(trimmed.prefix(40)) \(outOfRange)")
            } else {
                report(entry.value, entry.path, "expected an integer, found '\(text.prefix(40))'")
            }
            return nil
        }
        guard range.contains(value) else {
            report(entry.value, entry.path, "\(value) \(outOfRange)")
            return nil
        }
        return value
    }

    func bool(_ entry: Entry?) -> Bool? {
        guard let entry, let text = string(entry.value, entry.path, expected: "true or false") else { return nil }
        guard let value = Self.parseBool(text) else {
            report(entry.value, entry.path, "expected true or false, found '\(text.prefix(40))'")
            return nil
        }
        return value
    }

    static func parseBool(_ text: String) -> Bool? {
        switch text.trimmingWhitespace().lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: return nil
        }
    }

    func choice<E: RawRepresentable & CaseIterable>(_ entry: Entry?, _ type: E.Type) -> E? where E.RawValue == String {
        guard let entry, let text = string(entry) else { return nil }
        return choice(text, entry.value, entry.path, type)
    }

    func choice<E: RawRepresentable & CaseIterable>(_ text: String, _ node: Node, _ path: String, _ type: E.Type) -> E?
    where E.RawValue == String {
        if let value = E(rawValue: text) { return value }
        let allowed = E.allCases.map(\.rawValue)
        report(node, path, Message("'\(text)' is not one of \(allowed.joined(separator: ", "))"
                + Suggestion.didYouMean(text, among: allowed)))
        return nil
    }

    /// A size in bytes, within `range` (bounds are described in binary units in messages).
    func size(_ entry: Entry?, bareUnit: UInt64 = 1, range: ClosedRange<UInt64>) -> UInt64? {
        guard let entry, let text = string(entry.value, entry.path, expected: "a size") else { return nil }
        switch SizeParser.parse(text, bareUnit: bareUnit) {
        case .failure(let message):
            report(entry.value, entry.path, message)
            return nil
        case .success(let bytes):
            if bytes < range.lowerBound {
                report(entry.value, entry.path, "'\(text)' is too small: the minimum is \(SizeParser.describe(range.lowerBound))")
                return nil
            }
            if bytes > range.upperBound {
                report(entry.value, entry.path, "'\(text)' is too large: the limit is \(SizeParser.describe(range.upperBound))")
                return nil
            }
            return bytes
        }
    }

    func duration(_ entry: Entry?) -> Duration? {
        guard let entry, let text = string(entry.value, entry.path, expected: "a duration") else { return nil }
        switch DurationParser.parse(text) {
        case .failure(let message):
            report(entry.value, entry.path, message)
            return nil
        case .success(let duration):
            if duration <= .zero {
                report(entry.value, entry.path, "a duration must be longer than zero")
                return nil
            }
            return duration
        }
    }
}
