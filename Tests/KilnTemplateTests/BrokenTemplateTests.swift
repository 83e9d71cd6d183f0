import Foundation
import Testing
import KilnTemplate

/// The corpus of broken templates: each must fail with exactly the diagnostics written in it.
@Suite struct BrokenTemplateTests {
    struct Fixture: CustomStringConvertible, Sendable {
        var name: String
        var expected: [String]
        var options: [String]
        var description: String { name }
    }

    static let directory = Support.fixtures.appendingPathComponent("broken")

    static func fixtures() -> [Fixture] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".json") }.sorted().map(fixture)
    }

    static func fixture(_ name: String) -> Fixture {
        let text = (try? String(decoding: Data(contentsOf: directory.appendingPathComponent(name)), as: UTF8.self)) ?? ""
        var expected = directives("# expect: ", in: text)
        if expected.isEmpty, let sidecar = try? String(contentsOf: directory.appendingPathComponent(name + ".expected"), encoding: .utf8) {
            expected = sidecar.split(separator: "\n").map(String.init)
        }
        let options = directives("# options: ", in: text).flatMap { $0.split(separator: " ").map(String.init) }
        return Fixture(name: name, expected: expected.map {
            $0.replacingOccurrences(of: "${FIXTURES}", with: Support.fixtures.path)
        }, options: options)
    }

    static func directives(_ prefix: String, in text: String) -> [String] {
        text.split(separator: "\n").filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    static func options(_ arguments: [String]) -> LoadOptions {
        var options = LoadOptions(environment: ["HOME": "/home/test", "USER": "test"], now: Support.fixedNow,
                                  checkFiles: true, workingDirectory: Support.fixtures.path)
        var iterator = arguments.makeIterator()
        while let flag = iterator.next(), let value = iterator.next() {
            switch flag {
            case "--only": options.only.append(value)
            case "--except": options.except.append(value)
            case "--var-file": options.variableFiles.append(value)
            case "--output-dir": options.outputDirectoryOverride = value
            case "--var", "--env":
                let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
                if flag == "--var" { options.variables.append((parts[0], parts.count > 1 ? parts[1] : "")) }
                else { options.environment[parts[0]] = parts.count > 1 ? parts[1] : "" }
            default: Issue.record("unknown option \(flag) in a fixture")
            }
        }
        return options
    }

    static func diagnostics(_ fixture: Fixture) -> [String]? {
        do {
            _ = try TemplateLoader.load(path: "broken/\(fixture.name)", options: options(fixture.options))
            return nil
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    @Test func theCorpusIsLargeEnough() {
        #expect(Self.fixtures().count >= 45)
    }

    @Test(arguments: fixtures())
    func reportsExactly(_ fixture: Fixture) {
        #expect(!fixture.expected.isEmpty, "\(fixture.name) says nothing about what to expect")
        let actual = Self.diagnostics(fixture)
        #expect(actual != nil, "\(fixture.name) loaded without error")
        #expect(actual == fixture.expected)
    }
}
