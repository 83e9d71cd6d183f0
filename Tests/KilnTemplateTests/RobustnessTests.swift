import Foundation
import Testing
@testable import KilnTemplate

/// Hostile input must be refused with a diagnostic, never crash or hang.
@Suite struct RobustnessTests {
    @Test func filesOverTenMiBAreRefusedBeforeParsing() {
        let big = "builds: [{ name: web }]\n" + String(repeating: "#", count: 10 << 20)
        #expect(Support.errors(big) == ["/tmpl/t.yaml:1:1: file: the file is larger than the limit of 10 MiB (10485760 bytes)"])
    }

    @Test func bigFilesOnDiskAreRefusedFromTheirSize() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-big-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(count: (10 << 20) + 1)))
        #expect(throws: TemplateErrors.self) { try TemplateLoader.load(path: path, options: Support.options()) }
        do {
            _ = try TemplateLoader.load(path: path, options: Support.options())
        } catch {
            #expect(error.description == "\(path):1:1: \(path): the file is 10485761 bytes; the limit is 10 MiB (10485760 bytes)")
        }
    }

    @Test func missingTemplateFile() {
        do {
            _ = try TemplateLoader.load(path: "no/such.yaml", options: Support.options())
            Issue.record("loaded")
        } catch {
            #expect(error.description == "no/such.yaml: cannot read 'no/such.yaml': no such file")
        }
    }

    @Test func invalidUTF8IsLocated() {
        let bytes = Array("builds:\n  - name: w".utf8) + [0xC3, 0x28] + Array("\n".utf8)
        do {
            _ = try TemplateLoader.load(bytes: bytes, path: "t.yaml", options: Support.options())
            Issue.record("loaded")
        } catch {
            #expect(error.description == "t.yaml:2:12: file: the file is not valid UTF-8 text")
        }
    }

    @Test func deepButLegalNestingLoads() {
        let nested = String(repeating: "[", count: 900) + String(repeating: "]", count: 900)
        let errors = Support.errors("builds: [{ name: web, outputs: \(nested) }]")
        #expect(errors == ["/tmpl/t.yaml:1:33: builds[0].outputs[0]: expected an output format or a mapping of one format to its options, found a list"])
    }

    @Test func tooDeepNestingIsRefused() {
        let nested = String(repeating: "{a: ", count: 100_000)
        #expect(Support.errors("builds: \(nested)").first?.contains("nested more than 1000 levels deep") == true)
    }

    @Test func aliasesWithinReasonWork() throws {
        let yaml = """
        builds:
          - name: web
            machine: &machine { cpus: 3 }
          - name: db
            machine: *machine
        """
        #expect(try Support.load(yaml).get().builds.map(\.machine.cpus) == [3, 3])
    }

    @Test func aliasBombsAsKeysAreRefused() {
        var yaml = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            let previous = level == 1 ? "a" : "l\(level - 1)"
            yaml += "l\(level): &l\(level) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]\n"
        }
        yaml += "? *l9\n: boom\n"
        #expect(Support.errors(yaml).first?.contains("alias bomb") == true)
    }

    @Test func hugeNumbersAreOutOfRangeNotCrashes() {
        let errors = Support.errors("builds: [{ name: web, machine: { cpus: -99999999999999999999999, memory: 1e400 }, ssh: { port: 1e3 } }]")
        #expect(errors == [
            "/tmpl/t.yaml:1:40: builds[0].machine.cpus: -99999999999999999999999 is out of range: must be between 1 and 256",
            "/tmpl/t.yaml:1:74: builds[0].machine.memory: '1e400' is not a size; write a number with an optional unit K, M, G or T (powers of 1024), e.g. 8G or 512M",
            "/tmpl/t.yaml:1:96: builds[0].ssh.port: expected an integer, found '1e3'",
        ])
    }

    @Test func longNamesAndValuesAreCutInMessages() {
        let name = String(repeating: "x", count: 5000)
        let errors = Support.errors("builds: [{ name: web, seed: \(name) }]")
        #expect(errors.count == 1)
        #expect(errors[0].count < 5200)
    }

    /// A mistake in `defaults:` is reported once, however many builds inherit it.
    @Test func errorsAreSortedAndUnique() {
        let yaml = """
        defaults:
          machine: { cpus: 0 }
        builds:
          - name: b
            seed: x
          - name: a
        """
        #expect(Support.errors(yaml) == [
            "/tmpl/t.yaml:2:20: defaults.machine.cpus: 0 is out of range: must be between 1 and 256",
            "/tmpl/t.yaml:5:11: builds[0].seed: 'x' is not one of auto, credentials, guestfs, none",
        ])
    }

    @Test func longChainsOfVariablesAreCut() {
        let count = 20_000
        var yaml = "variables:\n"
        for index in 0..<count { yaml += "  v\(index): \"${var.v\(index + 1)}\"\n" }
        yaml += "  v\(count): end\nbuilds: [{ name: web }]\n"
        let errors = Support.errors(yaml)
        #expect(errors.count >= 1)
        #expect(errors.allSatisfy { $0.contains("more than 50 levels deep") })
    }

    @Test func manyBuildsAreCheckedQuickly() {
        let count = 30_000
        var yaml = "builds:\n"
        for index in 0..<count { yaml += "  - name: b\(index)\n" }
        yaml += "  - name: b7\n"
        let start = ContinuousClock.now
        #expect(Support.errors(yaml) == ["/tmpl/t.yaml:\(count + 2):11: builds[\(count)].name: duplicate build name 'b7' (first used at line 9)"])
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test func documentsWithTooManyValuesAreRefused() {
        let yaml = "builds: [{ name: web }]\nx: [" + Array(repeating: "1", count: 250_000).joined(separator: ",") + "]\n"
        #expect(Support.errors(yaml).first?.hasSuffix("the document holds more than 200000 values; refusing it") == true)
    }
}
