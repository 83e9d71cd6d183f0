import Foundation
import KilnTemplate

/// Finds an image's line in a SHA256SUMS / SHA512SUMS style file. Understands GNU lines
/// (`HASH  name`, `HASH *name`) and BSD lines (`SHA256 (name) = HASH`).
enum ChecksumsFile {
    struct Entry: Equatable, Sendable {
        var algorithm: ChecksumAlgorithm
        var hex: String
    }

    static func entry(for fileName: String, in text: String) -> Entry? {
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let entry = bsdEntry(line, fileName) ?? gnuEntry(line, fileName) { return entry }
        }
        return nil
    }

    private static func gnuEntry(_ line: String, _ fileName: String) -> Entry? {
        guard let space = line.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
        let hash = String(line[..<space])
        var name = line[space...].drop(while: { $0 == " " || $0 == "\t" })
        if name.hasPrefix("*") { name = name.dropFirst() }
        guard matches(String(name), fileName), let algorithm = algorithm(forHexLength: hash.count),
              isHex(hash) else { return nil }
        return Entry(algorithm: algorithm, hex: hash.lowercased())
    }

    private static func bsdEntry(_ line: String, _ fileName: String) -> Entry? {
        guard let open = line.firstIndex(of: "("), let close = line.range(of: ") = ", options: .backwards) else { return nil }
        let tag = line[..<open].trimmingCharacters(in: .whitespaces).uppercased()
        let name = String(line[line.index(after: open)..<close.lowerBound])
        let hash = String(line[close.upperBound...]).trimmingCharacters(in: .whitespaces)
        let algorithm: ChecksumAlgorithm
        switch tag {
        case "SHA256": algorithm = .sha256
        case "SHA512": algorithm = .sha512
        default: return nil
        }
        guard matches(name, fileName), isHex(hash), self.algorithm(forHexLength: hash.count) == algorithm else { return nil }
        return Entry(algorithm: algorithm, hex: hash.lowercased())
    }

    /// `name`, `./name` or `dir/name` all name the file.
    private static func matches(_ listed: String, _ fileName: String) -> Bool {
        listed == fileName || listed.hasSuffix("/" + fileName)
    }

    static func algorithm(forHexLength length: Int) -> ChecksumAlgorithm? {
        switch length {
        case 64: return .sha256
        case 128: return .sha512
        default: return nil
        }
    }

    private static func isHex(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy(\.isHexDigit)
    }
}
