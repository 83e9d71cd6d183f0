import Foundation
import Testing
@testable import KilnTemplate

@Suite struct ContentHashTests {
    /// A scratch template directory with a script and a directory upload, removed afterwards.
    final class Scratch {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-hash-\(UUID().uuidString)").path
        init() throws {
            try FileManager.default.createDirectory(atPath: directory + "/site/sub", withIntermediateDirectories: true)
            write("a.sh", "echo a\n")
            write("site/index.html", "<p>hi</p>\n")
            write("site/sub/x.css", "x{}\n")
        }
        deinit { try? FileManager.default.removeItem(atPath: directory) }
        func write(_ name: String, _ text: String) { FileManager.default.createFile(atPath: directory + "/" + name, contents: Data(text.utf8)) }

        static let yaml = """
        variables: { v: { default: one } }
        builds:
          - name: web
            provisioners:
              - script: a.sh
              - file: { source: site/, destination: /srv/ }
        """

        func hash(_ yaml: String = Scratch.yaml, variables: [(name: String, value: String)] = []) throws -> String {
            let options = Support.options { $0.checkFiles = true; $0.variables = variables }
            return try TemplateLoader.load(text: yaml, path: directory + "/t.yaml", options: options).contentHash
        }
    }

    @Test func anyInputChangesTheHash() throws {
        let scratch = try Scratch()
        let first = try scratch.hash()
        #expect(first.count == 64)
        #expect(try scratch.hash() == first)
        #expect(try scratch.hash(Scratch.yaml + "\n") != first)
        #expect(try scratch.hash(variables: [("v", "two")]) != first)
        scratch.write("a.sh", "echo b\n")
        let afterScript = try scratch.hash()
        #expect(afterScript != first)
        scratch.write("site/sub/x.css", "y{}\n")
        let afterNested = try scratch.hash()
        #expect(afterNested != afterScript)
        scratch.write("site/new.txt", "")
        #expect(try scratch.hash() != afterNested)
    }
}

@Suite struct ExampleTemplateTests {
    static func templates() -> [String] {
        let directory = Support.repositoryRoot().appendingPathComponent("templates").path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }.sorted()
            .map { directory + "/" + $0 }
    }

    @Test func thereAreExamples() {
        #expect(Self.templates().count >= 2)
    }

    @Test(arguments: templates())
    func loadsWithoutError(_ path: String) throws {
        let options = LoadOptions(environment: ["HOME": "/root"], now: Support.fixedNow, checkFiles: true)
        let template = try TemplateLoader.load(path: path, options: options)
        #expect(!template.builds.isEmpty)
    }

    @Test func debianExampleIsWhatTheReadmeDescribes() throws {
        let path = Support.repositoryRoot().appendingPathComponent("templates/debian.yaml").path
        let template = try TemplateLoader.load(path: path, options: LoadOptions(environment: [:], now: Support.fixedNow))
        let build = try #require(template.builds.first)
        guard case .bootstrap(let bootstrap) = build.source else { Issue.record("not a bootstrap source"); return }
        #expect(bootstrap.suite == "bookworm")
        #expect(bootstrap.packages.contains("curl"))
        #expect(build.machine.cpus == 2 && build.machine.memoryMiB == 1024)
        #expect(build.outputs.map(\.format) == [.qcow2, .vmdk, .vdi])
        #expect(build.outputs[1].vmdkSubformat == .streamOptimized)
        #expect(build.provisioners.map(\.title) == ["shell", "file files/motd -> /etc/motd"])
    }
}
