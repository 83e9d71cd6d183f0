import Foundation
import Testing

/// Whole builds through the CLI on the real path: libvirtd, a booted guest over SSH, libguestfs,
/// qemu-img. One at a time: each boots a VM on a 2-core machine.
@Suite(.serialized, .enabled(if: Repo.integration, "set KILN_INTEGRATION=1 (scripts/test does)"))
struct BuildIntegrationTests {
    /// Each test gets its own work root, so that leftover checks see only its own directories.
    func environment(_ dir: TempDirectory) -> [String: String] {
        ["KILN_WORK_DIR": dir.path + "/work"]
    }

    @Test func exampleTemplateBuildsEndToEnd() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let out = dir.path + "/debian"
        let output = try await runKiln(["build", Repo.root + "/templates/debian.yaml", "--output-dir", out, "--var", "release=7.7"],
                                       environment: environment(dir))
        #expect(output.status == 0, "\(output.combined)")
        #expect(output.stdout.contains("accelerator: "))
        #expect(try await kilnDomains(build: "debian", under: dir.path).isEmpty)
        #expect(dir.contents("/work").isEmpty, "work directory left: \(dir.contents("/work"))")
        #expect(dir.contents() == ["debian", "work"], "\(dir.contents())")
        #expect(dir.contents("/debian") == ["SHA256SUMS", "debian.qcow2", "debian.vdi", "debian.vmdk", "manifest.json"])

        // Every artifact is a sound image with the same content.
        for (file, format) in [("debian.qcow2", "qcow2"), ("debian.vdi", "vdi"), ("debian.vmdk", "vmdk")] {
            let check = try await runTool("/usr/bin/qemu-img", ["check", "-f", format, out + "/" + file])
            #expect(check.status == 0, "\(file): \(check.combined)")
        }
        for other in ["debian.vdi", "debian.vmdk"] {
            let compare = try await runTool("/usr/bin/qemu-img", ["compare", out + "/debian.qcow2", out + "/" + other])
            #expect(compare.status == 0, "\(other) differs from the qcow2: \(compare.combined)")
        }

        // The provisioning is inside the exported disk, and generalize removed the build's key.
        let release = try await runTool("/usr/bin/virt-cat", ["-a", out + "/debian.vmdk", "/etc/kiln-release"])
        #expect(release.stdout == "kiln debian 7.7\n", "\(release.combined)")
        let motd = try await runTool("/usr/bin/virt-cat", ["-a", out + "/debian.vmdk", "/etc/motd"])
        #expect(motd.status == 0 && !motd.stdout.isEmpty)
        let keys = try await runTool("/usr/bin/virt-cat", ["-a", out + "/debian.qcow2", "/root/.ssh/authorized_keys"])
        #expect(!keys.stdout.contains("ssh-ed25519"), "the build's key is still in the image")

        // The manifest reads like Packer's and records what ran.
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json"))) as! [String: Any]
        let build = (manifest["builds"] as! [[String: Any]])[0]
        #expect(build["builder_type"] as? String == "kiln.qemu")
        let kiln = build["kiln"] as! [String: Any]
        #expect(kiln["accelerator"] as? String == "tcg" || kiln["accelerator"] as? String == "kvm")
        #expect((kiln["guest"] as? [String: Any])?["distribution"] as? String == "debian")
        let sums = try String(contentsOfFile: out + "/SHA256SUMS", encoding: .utf8)
        let verify = try await RunningProcess("/usr/bin/sha256sum", ["-c", "SHA256SUMS"], directory: out).wait()
        #expect(verify.status == 0, "\(sums) \(verify.combined)")
    }

    @Test func rebootProvisionerWaitsForTheNextBoot() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let output = try await runKiln(["build", Repo.root + "/Tests/Templates/reboot.yaml", "--output-dir", dir.path + "/out"],
                                       environment: environment(dir))
        #expect(output.status == 0, "\(output.combined)")
        #expect(output.stdout.contains("second boot confirmed"))
        #expect(try await kilnDomains(build: "reboot", under: dir.path).isEmpty)
        #expect(dir.contents("/work").isEmpty)
    }

    @Test func failingProvisionerExitsOneAndLeavesNothing() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let output = try await runKiln(["build", Repo.root + "/Tests/Templates/failing.yaml", "--output-dir", dir.path + "/out"],
                                       environment: environment(dir))
        #expect(output.status == 1, "\(output.combined)")
        #expect(output.stderr.contains("exited with status 3"), "\(output.stderr)")
        #expect(output.stderr.contains("failing.yaml:"))
        #expect(output.stderr.contains("about to fail"))
        #expect(try await kilnDomains(build: "failing", under: dir.path).isEmpty)
        #expect(dir.contents("/work").isEmpty)
        #expect(!dir.contents().contains("out"))
    }

    @Test func existingOutputIsNeverTouchedWithoutForce() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path + "/out", withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: URL(fileURLWithPath: dir.path + "/out/old.img"))
        let output = try await runKiln(["build", Repo.root + "/templates/debian.yaml", "--output-dir", dir.path + "/out"],
                                       environment: environment(dir))
        #expect(output.status == 3, "\(output.combined)")
        #expect(output.stderr.contains("--force"))
        #expect(dir.contents("/out") == ["old.img"])
        #expect(dir.contents("/work").isEmpty)
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func interruptWhileBootingCleansUp(signal: Int32) async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let build = try RunningProcess(Repo.kiln, ["build", Repo.root + "/templates/debian.yaml", "--output-dir", dir.path + "/out"],
                                       environment: environment(dir))
        let reached = await build.waitForOutput(containing: "wait for ssh", timeout: .seconds(300))
        #expect(reached, "the build never reached wait for ssh: \(build.stdoutSoFar)")
        #expect(try await kilnDomains(build: "debian", under: dir.path).count == 1)
        build.signal(signal)
        let output = await build.wait(timeout: .seconds(120))
        #expect(output.status == 130, "\(output.combined)")
        #expect(output.stderr.contains("interrupted"))
        #expect(try await kilnDomains(build: "debian", under: dir.path).isEmpty)
        #expect(dir.contents("/work").isEmpty)
        #expect(!dir.contents().contains("out"))
    }

    @Test func afterSIGKILLCleanRemovesWhatWasLeft() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let build = try RunningProcess(Repo.kiln, ["build", Repo.root + "/templates/debian.yaml", "--output-dir", dir.path + "/out"],
                                       environment: environment(dir))
        #expect(await build.waitForOutput(containing: "wait for ssh", timeout: .seconds(300)))
        build.signal(SIGKILL)
        _ = await build.wait(timeout: .seconds(30))
        #expect(dir.contents("/work").count == 1, "the killed build's work directory should still be there")
        let clean = try await runKiln(["clean"], environment: environment(dir))
        #expect(clean.status == 0, "\(clean.combined)")
        #expect(dir.contents("/work").isEmpty)
        // libvirt destroys the domain when the killed process's connection closes (autodestroy).
        try await Task.sleep(for: .seconds(2))
        #expect(try await kilnDomains(build: "debian", under: dir.path).isEmpty)
    }
}
