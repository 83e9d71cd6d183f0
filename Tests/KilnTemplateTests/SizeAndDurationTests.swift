import Testing
@testable import KilnTemplate

@Suite struct SizeTests {
    static let examples: [(String, UInt64)] = [
        ("8G", 8 << 30), ("512M", 512 << 20), ("1.5G", 1536 << 20), ("2048MiB", 2048 << 20),
        ("10GB", 10 << 30), ("1T", 1 << 40), ("4k", 4096), ("100", 100), ("100B", 100), (" 2G ", 2 << 30),
    ]

    @Test(arguments: examples)
    func parses(_ text: String, _ bytes: UInt64) throws {
        #expect(try SizeParser.parse(text).get() == bytes)
    }

    @Test func bareNumbersUseTheGivenUnit() throws {
        #expect(try SizeParser.parse("1024", bareUnit: 1 << 20).get() == 1 << 30)
        #expect(try SizeParser.parse("1.5", bareUnit: 1 << 20).get() == 3 << 19)
    }

    @Test(arguments: ["", "G", "8Q", "8 GB x", "1..5G", ".5G", "5.G", "0x10", "8GiBB", "ten"])
    func refusesWhatIsNotASize(_ text: String) {
        guard case .failure(let message) = SizeParser.parse(text) else {
            Issue.record("'\(text)' parsed")
            return
        }
        #expect(message.text.contains("is not a size"))
    }

    @Test func refusesNegativeFractionalAndHugeSizes() {
        #expect(SizeParser.parse("-1G").failureText == "a size cannot be negative (got '-1G')")
        #expect(SizeParser.parse("1.5").failureText == "'1.5' has a fraction of a byte; sizes in bytes must be whole numbers")
        #expect(SizeParser.parse("99999999999999999999999").failureText == "'99999999999999999999999' is far too large a size")
        #expect(SizeParser.parse("16000000T").failureText == "'16000000T' is far too large a size")
        #expect(SizeParser.parse("1e300G").failureText != nil)
    }

    @Test func describesSizesInBinaryUnits() {
        #expect(SizeParser.describe(64 << 40) == "64 TiB")
        #expect(SizeParser.describe(256 << 20) == "256 MiB")
        #expect(SizeParser.describe(1000) == "1000 bytes")
    }
}

@Suite struct DurationTests {
    static let examples: [(String, Duration)] = [
        ("90s", .seconds(90)), ("5m", .seconds(300)), ("1h30m", .seconds(5400)), ("500ms", .milliseconds(500)),
        ("1.5h", .seconds(5400)), ("2m30s", .seconds(150)), ("1H", .seconds(3600)),
    ]

    @Test(arguments: examples)
    func parses(_ text: String, _ duration: Duration) throws {
        #expect(try DurationParser.parse(text).get() == duration)
    }

    @Test func refusesBadDurations() {
        #expect(DurationParser.parse("90").failureText == "'90' has no unit; write e.g. 90s, 5m, 1h30m or 500ms")
        #expect(DurationParser.parse("-5m").failureText == "a duration cannot be negative (got '-5m')")
        #expect(DurationParser.parse("5 minutes").failureText?.contains("is not a duration") == true)
        #expect(DurationParser.parse("5d").failureText?.contains("is not a duration") == true)
        #expect(DurationParser.parse("").failureText?.contains("is not a duration") == true)
        #expect(DurationParser.parse("m").failureText?.contains("is not a duration") == true)
        #expect(DurationParser.parse("721h").failureText == "'721h' is longer than the limit of 30 days (720h)")
        #expect(DurationParser.parse("99999999999999999999999h").failureText?.contains("limit") == true)
    }
}

extension Result where Failure == Message {
    var failureText: String? {
        if case .failure(let message) = self { return message.text }
        return nil
    }
}
