/// Sizes as written in templates: a number with an optional binary unit.
///
/// `K`, `M`, `G`, `T` are powers of 1024, and may be followed by `iB` or `B` with the same meaning
/// (`10GB` is 10 GiB, as in qemu-img). A bare number is bytes (callers may pick another base unit,
/// as `memory` does with MiB). Fractions are allowed with a unit (`1.5G`) and rounded down to bytes.
enum SizeParser {
    static let units: [(suffix: String, multiplier: UInt64)] = [
        ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40),
    ]
    static let maximum: Double = 9.0e18 // well below UInt64.max, above every limit we enforce

    /// The size in bytes, or a message saying what is wrong. `bareUnit` multiplies a number without unit.
    static func parse(_ text: String, bareUnit: UInt64 = 1) -> Result<UInt64, Message> {
        let trimmed = text.trimmingWhitespace()
        if trimmed.hasPrefix("-") { return .failure("a size cannot be negative (got '\(text)')") }
        let digitsEnd = trimmed.firstIndex { !($0.isASCII && ($0.isNumber || $0 == ".")) } ?? trimmed.endIndex
        let number = String(trimmed[..<digitsEnd])
        let unit = trimmed[digitsEnd...].uppercased()
        guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1,
              number.first != ".", number.last != "." else { return .failure(notASize(text)) }
        let multiplier: UInt64
        if unit.isEmpty {
            multiplier = bareUnit
        } else if unit == "B" {
            multiplier = 1
        } else if let match = units.first(where: { [$0.suffix, $0.suffix + "B", $0.suffix + "IB"].contains(unit) }) {
            multiplier = match.multiplier
        } else {
            return .failure(notASize(text))
        }
        if !number.contains(".") {
            guard let value = UInt64(number) else { return .failure(tooLarge(text)) }
            let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
            guard !overflow, Double(product) <= maximum else { return .failure(tooLarge(text)) }
            return .success(product)
        }
        guard unit != "" || bareUnit > 1, let value = Double(number) else {
            return .failure("'\(text)' has a fraction of a byte; sizes in bytes must be whole numbers")
        }
        let bytes = value * Double(multiplier)
        guard bytes <= maximum else { return .failure(tooLarge(text)) }
        return .success(UInt64(bytes.rounded(.down)))
    }

    private static func notASize(_ text: String) -> Message {
        "'\(text)' is not a size; write a number with an optional unit K, M, G or T (powers of 1024), e.g. 8G or 512M"
    }

    private static func tooLarge(_ text: String) -> Message { "'\(text)' is far too large a size" }

    /// "64 TiB", "1 GiB", "512 MiB", or bytes.
    static func describe(_ bytes: UInt64) -> String {
        for (suffix, multiplier) in units.reversed() where bytes >= multiplier && bytes % multiplier == 0 {
            return "\(bytes / multiplier) \(suffix)iB"
        }
        return "\(bytes) bytes"
    }
}

/// A diagnostic's text, before it has a place and a field.
struct Message: Error, ExpressibleByStringInterpolation {
    var text: String
    init(_ text: String) { self.text = text }
    init(stringLiteral value: String) { text = value }
    init(stringInterpolation: DefaultStringInterpolation) { text = String(stringInterpolation: stringInterpolation) }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
