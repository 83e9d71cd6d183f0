import Foundation
import Testing

/// The step cache on the real path: live disk snapshots through libvirt, layers in the cache,
/// resumed builds booting from a cached layer with fresh keys, exports from the finished layer.
@Suite(.serialized, .enabled(if: Repo.integration, "set KILN_INTEGRATION=1 (scripts/test does)"))
struct StepCacheIntegrationTests {
    static let images = FaultIntegrationTests.images

    static let template = """
        variables:
          last: { default: "3" }
        builds:
          - name: cached
            \(TinyGuest.buildLines(indent: 4))
            shutdown: { command: poweroff, timeout: 30s }
            generalize: false
            provisioners:
              - shell: "echo running step 1; echo 1 >> /etc/steps"
              - shell: "echo running step 2; echo 2 >> /etc/steps"
              - shell: "echo running step ${var.last}; echo ${var.last} >> /etc/steps"
            outputs: [qcow2]
        """

    func kiln(_ dir: TempDirectory, _ arguments: [String]) async throws -> ProcessOutput {
        try await runKiln(arguments, environment: ["KILN_WORK_DIR": dir.path + "/work", "KILN_CACHE_DIR": dir.path + "/cache",
                                                    "KILN_NO_CACHE": "0"], timeout: .seconds(400))
    }

    func steps(in image: String) async throws -> String {
        try await runTool("/usr/bin/virt-cat", ["-a", image, "/etc/steps"]).stdout
    }

    @Test func rebuildsResumeFromTheLastUnchangedStep() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let path = dir.path + "/t.yaml"
        try Data(Self.template.utf8).write(to: URL(fileURLWithPath: path))

        let cold = try await kiln(dir, ["build", path, "--output-dir", dir.path + "/cold"])
        #expect(cold.status == 0, "\(cold.combined)")
        #expect(cold.stdout.components(separatedBy: "step cache: kept the disk after").count == 4, "\(cold.stdout)")

        // Unchanged: no boot, only the export, from the cached finished disk.
        let warm = try await kiln(dir, ["build", path, "--output-dir", dir.path + "/warm"])
        #expect(warm.status == 0, "\(warm.combined)")
        #expect(warm.stdout.contains("only the outputs are made"), "\(warm.stdout)")
        #expect(!warm.stdout.contains("==> cached: boot"))
        let current = try await kiln(dir, ["build", path, "--output-dir", dir.path + "/warm"])
        #expect(current.status == 0 && current.stdout.contains("are up to date"), "\(current.combined)")
        let same = try await runTool("/usr/bin/qemu-img", ["compare", dir.path + "/cold/cached.qcow2", dir.path + "/warm/cached.qcow2"])
        #expect(same.status == 0, "\(same.combined)")

        // The last step changed: the guest boots from the layer after step 2 (with this build's
        // fresh keys) and only step 3 runs.
        let changed = try await kiln(dir, ["build", path, "--var", "last=three", "--output-dir", dir.path + "/changed"])
        #expect(changed.status == 0, "\(changed.combined)")
        #expect(changed.stdout.contains("resuming after shell"), "\(changed.stdout)")
        #expect(!changed.stdout.contains("running step 1") && !changed.stdout.contains("running step 2"))
        #expect(changed.stdout.contains("running step three"))
        #expect(try await steps(in: dir.path + "/changed/cached.qcow2") == "1\n2\nthree\n")

        // --no-cache runs everything.
        let full = try await kiln(dir, ["build", path, "--no-cache", "--output-dir", dir.path + "/full"])
        #expect(full.status == 0, "\(full.combined)")
        #expect(full.stdout.contains("running step 1") && !full.stdout.contains("step cache"))

        let list = try await kiln(dir, ["cache", "list"])
        #expect(list.stdout.contains("layer"), "\(list.stdout)")
        let prune = try await kiln(dir, ["cache", "prune", "--all"])
        #expect(prune.status == 0 && prune.stdout.contains("removed layer"), "\(prune.combined)")
        #expect(dir.contents("/cache/layers").isEmpty, "\(dir.contents("/cache/layers"))")
        #expect(dir.contents("/work").isEmpty)
        #expect(try await kilnDomains(build: "cached").isEmpty)
    }

    /// Two builds with the same steps (so the same keys) racing to store their layers: both
    /// succeed, each key is stored once, and a rebuild of both comes from the cache.
    @Test func concurrentBuildsShareTheCacheSafely() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let parts = Self.template.components(separatedBy: "builds:\n")
        let twins = parts[0] + "builds:\n" + parts[1] + "\n" + parts[1].replacingOccurrences(of: "name: cached", with: "name: twin")
        let path = dir.path + "/twins.yaml"
        try Data(twins.utf8).write(to: URL(fileURLWithPath: path))

        let first = try await kiln(dir, ["build", path, "--parallel", "2"])
        #expect(first.status == 0, "\(first.combined)")
        let layers = dir.contents("/cache/layers").filter { $0.hasSuffix(".qcow2") }
        #expect(layers.count == 4, "\(layers)")   // three steps and the finished disk, once each
        let again = try await kiln(dir, ["build", path, "--parallel", "2", "--force"])
        #expect(again.status == 0, "\(again.combined)")
        #expect(again.stdout.components(separatedBy: "only the outputs are made").count == 3, "\(again.stdout)")
        #expect(dir.contents("/work").isEmpty)
        #expect(try await kilnDomains(build: "twin").isEmpty)
        #expect(try await kilnDomains(build: "cached").isEmpty)
    }
}
