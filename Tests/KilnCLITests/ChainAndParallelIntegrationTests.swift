import Foundation
import Testing

/// Template chaining (`source: { build: ... }`) and `--parallel` on the real path.
@Suite(.serialized, .enabled(if: Repo.integration, "set KILN_INTEGRATION=1 (scripts/test does)"))
struct ChainAndParallelIntegrationTests {
    static let images = FaultIntegrationTests.images

    static func build(_ name: String, source: String, marker: String, outputs: String = "[qcow2]") -> String {
        """
          - name: \(name)
            source: \(source)
            machine:
              cpus: 1
              memory: 256
              kernel: { path: \(images)/vmlinuz, initrd: \(images)/tiny-initrd.gz, cmdline: "console=ttyS0 quiet no_timer_check" }
            seed: credentials
            shutdown: { command: poweroff, timeout: 30s }
            generalize: false
            provisioners:
              - shell: "echo building \(name); echo \(marker) > /etc/\(marker)"
            outputs: \(outputs)
            output_directory: out/\(name)
        """
    }

    func kiln(_ dir: TempDirectory, _ arguments: [String], cache: Bool = false) async throws -> ProcessOutput {
        try await runKiln(arguments, environment: ["KILN_WORK_DIR": dir.path + "/work", "KILN_CACHE_DIR": dir.path + "/cache",
                                                    "KILN_NO_CACHE": cache ? "0" : "1"], timeout: .seconds(600))
    }

    @Test func aBuildStartsFromAnotherTemplatesBuildWhichIsBuiltFirstThenReused() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try Data(("builds:\n" + Self.build("golden", source: "{ image: \(Self.images)/tiny.qcow2 }", marker: "golden-layer")).utf8)
            .write(to: URL(fileURLWithPath: dir.path + "/base.yaml"))
        try Data(("builds:\n" + Self.build("app", source: "{ build: base.yaml#golden }", marker: "app-layer")).utf8)
            .write(to: URL(fileURLWithPath: dir.path + "/app.yaml"))

        let first = try await kiln(dir, ["build", dir.path + "/app.yaml"], cache: true)
        #expect(first.status == 0, "\(first.combined)")
        let golden = first.stdout.range(of: "building golden"), app = first.stdout.range(of: "building app")
        #expect(golden != nil && app != nil && golden!.lowerBound < app!.lowerBound, "\(first.stdout)")
        let both = try await runTool("/usr/bin/virt-cat", ["-a", dir.path + "/out/app/app.qcow2", "/etc/golden-layer", "/etc/app-layer"])
        #expect(both.stdout == "golden-layer\napp-layer\n", "\(both.combined)")

        // Nothing changed: both are up to date, nothing boots.
        let again = try await kiln(dir, ["build", dir.path + "/app.yaml"], cache: true)
        #expect(again.status == 0, "\(again.combined)")
        #expect(again.stdout.components(separatedBy: "are up to date").count == 3, "\(again.stdout)")
        #expect(!again.stdout.contains("==> app: boot") && !again.stdout.contains("==> golden: boot"))
        #expect(dir.contents("/work").isEmpty)
        #expect(try await kilnDomains().filter { $0.hasPrefix("kiln-app-") || $0.hasPrefix("kiln-golden-") }.isEmpty)
    }

    @Test func parallelBuildsOfSeveralTemplatesAllSucceedWithTheirOwnOutputs() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        for name in ["p1", "p2"] {
            try Data(("builds:\n" + Self.build(name, source: "{ image: \(Self.images)/tiny.qcow2 }", marker: name)).utf8)
                .write(to: URL(fileURLWithPath: dir.path + "/\(name).yaml"))
        }
        let run = try await kiln(dir, ["build", dir.path + "/p1.yaml", dir.path + "/p2.yaml", "--parallel", "2"])
        #expect(run.status == 0, "\(run.combined)")
        #expect(run.stdout.contains("2 builds, up to 2 at once"))
        // Both guests were up at the same time: each build's SSH login came before either finished.
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let logins = lines.indices.filter { lines[$0].contains("ssh: root@127.0.0.1") }
        let finishes = lines.indices.filter { lines[$0].contains("shutdown done") }
        #expect(logins.count == 2 && finishes.count == 2 && logins.max()! < finishes.min()!, "\(run.stdout)")
        #expect(dir.contents("/out/p1").contains("p1.qcow2") && dir.contents("/out/p2").contains("p2.qcow2"))
        #expect(dir.contents("/work").isEmpty)

        let bad = try await kiln(dir, ["build", dir.path + "/p1.yaml", "--parallel", "0"])
        #expect(bad.status == 2 && bad.stderr.contains("--parallel must be at least 1"), "\(bad.combined)")
    }
}
