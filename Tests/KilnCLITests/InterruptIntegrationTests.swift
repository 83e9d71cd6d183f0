import Foundation
import Testing

/// SIGINT at each long step of a real build: bootstrapping, provisioning, generalizing,
/// converting. Each must exit 130 and leave no domain, work directory, cache temp or output.
@Suite(.serialized, .enabled(if: Repo.integration, "set KILN_INTEGRATION=1 (scripts/test does)"))
struct InterruptIntegrationTests {
    static let images = FaultIntegrationTests.images

    static let tiny = """
        builds:
          - name: stop
            source: { image: \(images)/tiny.qcow2 }
            machine:
              cpus: 1
              memory: 256
              kernel: { path: \(images)/vmlinuz, initrd: \(images)/tiny-initrd.gz, cmdline: "console=ttyS0 quiet" }
            seed: credentials
            shutdown: { command: poweroff }
            provisioners:
              - shell: |
                  echo provisioning-started
                  sleep ${var.sleep}
            outputs: [qcow2]
        variables:
          sleep: { default: "0" }
        """

    static let debian = """
        builds:
          - name: stop
            source: { bootstrap: { suite: bookworm, packages: ["${var.package}"] } }
            shutdown: { command: poweroff }
            generalize: false
            provisioners:
              - shell: head -c 300M /dev/urandom > /root/big
            outputs: [{ vmdk: { subformat: streamOptimized } }, vdi]
        variables:
          package: { default: curl }
        """

    @Test(arguments: [
        ("provisioning", tiny, ["--var", "sleep=120"], "provisioning-started", false),
        ("generalizing", tiny, [], "launching the libguestfs appliance", false),
        ("converting", debian, [], "==> stop: export", false),
        ("bootstrapping", debian, ["--var", "package=less"], "bootstrapping", true),
    ])
    func sigintCleansUp(step: String, template: String, arguments: [String], marker: String, freshCache: Bool) async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try Data(template.utf8).write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
        var environment = ["KILN_WORK_DIR": dir.path + "/work"]
        if freshCache { environment["KILN_CACHE_DIR"] = dir.path + "/cache" }
        let build = try RunningProcess(Repo.kiln, ["build", dir.path + "/t.yaml", "--output-dir", dir.path + "/out"] + arguments,
                                       environment: environment)
        let reached = await build.waitForOutput(containing: marker, timeout: .seconds(400))
        #expect(reached, "\(step): never saw '\(marker)': \(build.stdoutSoFar.suffix(2000))")
        build.signal(SIGINT)
        let output = await build.wait(timeout: .seconds(180))
        #expect(output.status == 130, "\(step): \(output.combined.suffix(3000))")
        #expect(try await kilnDomains(build: "stop").isEmpty, "\(step): domain left")
        #expect(dir.contents("/work").isEmpty, "\(step): work directory left")
        #expect(!dir.contents().contains("out"), "\(step): output left")
        #expect(!dir.contents().contains { $0.hasPrefix(".out.kiln-") }, "\(step): partial outputs left")
        if freshCache {
            let leftovers = dir.contents("/cache/bootstrap").filter { $0.hasPrefix(".tmp-") }
            #expect(leftovers.isEmpty, "\(step): bootstrap temp left: \(leftovers)")
        }
    }

    @Test func offlineOnlyTemplateNeverBoots() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try Data("""
            builds:
              - name: offline
                source: { image: \(Self.images)/tiny.qcow2 }
                provisioners:
                  - write: { path: /etc/kiln-offline, content: "no boot needed" }
                  - hostname: offline-only
                  - run_command: echo ran > /etc/kiln-command
                generalize: { enabled: true, keep: [logs] }
                outputs: [qcow2]
            """.utf8).write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
        let output = try await runKiln(["build", dir.path + "/t.yaml", "--output-dir", dir.path + "/out"],
                                       environment: ["KILN_WORK_DIR": dir.path + "/work"])
        #expect(output.status == 0, "\(output.combined)")
        #expect(!output.stdout.contains("==> offline: boot"), "an offline-only template booted")
        let written = try await runTool("/usr/bin/virt-cat", ["-a", dir.path + "/out/offline.qcow2", "/etc/kiln-offline"])
        #expect(written.stdout == "no boot needed")
        let ran = try await runTool("/usr/bin/virt-cat", ["-a", dir.path + "/out/offline.qcow2", "/etc/kiln-command"])
        #expect(ran.stdout == "ran\n", "\(ran.combined)")
        #expect(dir.contents("/work").isEmpty)
    }
}
