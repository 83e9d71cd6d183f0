/// Durations as written in templates: `90s`, `5m`, `1h30m`, `500ms`, `1.5h`.
/// Units: `ms`, `s`, `m`, `h`; a bare number is refused (is `90` seconds or minutes?).
enum DurationParser {
    static let maximumSeconds: Double = 30 * 24 * 3600

    static func parse(_ text: String) -> Result<Duration, Message> {
        let trimmed = text.trimmingWhitespace()
        if trimmed.hasPrefix("-") { return .failure("a duration cannot be negative (got '\(text)')") }
        var rest = Substring(trimmed)
        var totalMilliseconds: Double = 0
        guard !rest.isEmpty else { return .failure(notADuration(text)) }
        if Double(trimmed) != nil { return .failure("'\(text)' has no unit; write e.g. 90s, 5m, 1h30m or 500ms") }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            guard let value = Double(number), !number.hasPrefix("."), !number.hasSuffix(".") else {
                return .failure(notADuration(text))
            }
            let milliseconds: Double
            switch unit.lowercased() {
            case "ms": milliseconds = 1
            case "s": milliseconds = 1000
            case "m": milliseconds = 60_000
            case "h": milliseconds = 3_600_000
            default: return .failure(notADuration(text))
            }
            totalMilliseconds += value * milliseconds
            guard totalMilliseconds / 1000 <= maximumSeconds else {
                return .failure("'\(text)' is longer than the limit of 30 days (720h)")
            }
        }
        return .success(.milliseconds(Int64(totalMilliseconds.rounded())))
    }

    private static func notADuration(_ text: String) -> Message {
        "'\(text)' is not a duration; write a number and a unit ms, s, m or h, e.g. 90s, 5m, 1h30m"
    }
}
