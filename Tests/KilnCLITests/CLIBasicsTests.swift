import Foundation
import Testing

@Suite struct CLIBasicsTests {
    @Test func versionPrintsTheVersion() async throws {
        let output = try await runKiln(["version"])
        #expect(output.status == 0)
        #expect(output.stdout.hasPrefix("kiln "))
    }

    @Test func everyShippedTemplateValidates() async throws {
        let templates = try FileManager.default.contentsOfDirectory(atPath: Repo.root + "/templates")
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }
        #expect(!templates.isEmpty)
        for name in templates {
            let output = try await runKiln(["validate", Repo.root + "/templates/" + name])
            #expect(output.status == 0, "\(name): \(output.combined)")
        }
    }

    @Test(arguments: [
        ("unknown-build-key.yaml", "unknown key"),
        ("cpus-zero.yaml", "cpus"),
        ("malformed-yaml.yaml", ":"),
    ])
    func brokenTemplatesExitTwoWithThePosition(name: String, expected: String) async throws {
        let path = Repo.root + "/Tests/KilnTemplateTests/Fixtures/broken/" + name
        guard FileManager.default.fileExists(atPath: path) else { return }
        let output = try await runKiln(["validate", path])
        #expect(output.status == 2)
        #expect(output.stderr.contains(path + ":"), "\(output.stderr)")
        #expect(output.stderr.contains(expected))
        #expect(output.stderr.contains("nothing was created"))
        #expect(!output.stderr.contains("Fatal error"))
    }

    @Test func everyBrokenFixtureExitsTwoWithoutACrash() async throws {
        let directory = Repo.root + "/Tests/KilnTemplateTests/Fixtures/broken"
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".json") }.sorted()
        #expect(names.count >= 60)
        for name in names {
            // Fixtures that need extra command-line options are covered by the template tests.
            let text = (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? ""
            if text.contains("# options:") { continue }
            let output = try await runKiln(["validate", directory + "/" + name])
            #expect(output.status == 2, "\(name) exited \(output.status): \(output.combined)")
            #expect(output.stderr.contains(name), "\(name): the error does not name the file: \(output.stderr)")
        }
    }

    @Test func malformedVarFlagIsABadArgument() async throws {
        let output = try await runKiln(["validate", Repo.root + "/templates/debian.yaml", "--var", "novalue"])
        #expect(output.status == 2)
        #expect(output.stderr.contains("--var novalue"))
    }

    @Test(arguments: ["Tests/Templates/tiny.yaml", "templates/debian.yaml"])
    func inspectMatchesItsGoldenFile(template: String) async throws {
        let output = try await runKiln(["inspect", Repo.root + "/" + template, "--output-dir", "/tmp/kiln-inspect-out"])
        #expect(output.status == 0, "\(output.combined)")
        let actual = output.stdout.replacingOccurrences(of: Repo.root, with: "<repo>")
            .replacingOccurrences(of: #"hash: sha256:[0-9a-f]{64}"#, with: "hash: sha256:<hash>", options: .regularExpression)
        let name = (template as NSString).lastPathComponent.replacingOccurrences(of: ".yaml", with: "")
        let golden = Repo.root + "/Tests/KilnCLITests/Golden/inspect-\(name).txt"
        if ProcessInfo.processInfo.environment["KILN_UPDATE_GOLDEN"] == "1" {
            try Data(actual.utf8).write(to: URL(fileURLWithPath: golden))
        }
        #expect(actual == (try String(contentsOfFile: golden, encoding: .utf8)))
    }

    @Test func sensitiveVariablesNeverShowInInspect() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let template = dir.path + "/t.yaml"
        try Data("""
            variables:
              pw: { sensitive: true }
            builds:
              - name: s
                source: { image: /etc/hostname }
                provisioners:
                  - shell: echo ${var.pw}
                  - root_password: ${var.pw}
            """.utf8).write(to: URL(fileURLWithPath: template))
        let output = try await runKiln(["inspect", template, "--var", "pw=hunter2-very-secret"])
        #expect(output.status == 0, "\(output.combined)")
        #expect(!output.combined.contains("hunter2-very-secret"))
        #expect(output.stdout.contains("<sensitive>"))
    }
}
