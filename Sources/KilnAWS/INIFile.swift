import Foundation

/// The AWS CLI's INI dialect: `[section]` headers, `key = value` lines, `#`/`;` comments.
/// Indented lines (nested sub-sections such as `s3 =`) are skipped: Kiln reads none of them.
struct INIFile: Sendable, Equatable {
    var sections: [String: [String: String]]

    static func parse(_ text: String) -> INIFile {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                current = name.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                if sections[current!] == nil { sections[current!] = [:] }
                continue
            }
            if rawLine.first == " " || rawLine.first == "\t" { continue }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[current]?[key] = value
        }
        return INIFile(sections: sections)
    }

    static func load(_ path: String) -> INIFile? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return parse(text)
    }
}
