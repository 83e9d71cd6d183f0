import Foundation
import Testing

/// Guest and host faults on the real path, with the tiny test image (scripts/build-test-image):
/// each must end in a clear error, exit 1, and leave no domain, work directory or output.
@Suite(.serialized, .enabled(if: Repo.integration, "set KILN_INTEGRATION=1 (scripts/test does)"))
struct FaultIntegrationTests {
    static let images = ProcessInfo.processInfo.environment["KILN_TEST_IMAGES"] ?? "/var/tmp/kiln-test-images"

    /// A tiny-image template with the given provisioners (YAML list items, already indented by 6).
    static func template(provisioners: String, extra: String = "", outputs: String = "[qcow2]") -> String {
        """
        builds:
          - name: fault
            \(TinyGuest.buildLines(indent: 4))
            shutdown: { command: poweroff, timeout: 30s }
            generalize: false
        \(extra)
            provisioners:
        \(provisioners)
            outputs: \(outputs)
        """
    }

    struct Run {
        var output: ProcessOutput
        var dir: TempDirectory
    }

    func build(_ text: String, output: String? = nil) async throws -> Run {
        let dir = try TempDirectory()
        let path = dir.path + "/t.yaml"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let result = try await runKiln(["build", path, "--output-dir", output ?? dir.path + "/out"],
                                       environment: ["KILN_WORK_DIR": dir.path + "/work"], timeout: .seconds(400))
        return Run(output: result, dir: dir)
    }

    func expectNothingLeft(_ run: Run, _ comment: String) async throws {
        #expect(try await kilnDomains(build: "fault", under: run.dir.path).isEmpty, "domain left: \(comment)")
        #expect(run.dir.contents("/work").isEmpty, "work directory left: \(comment)")
        #expect(!run.dir.contents().contains("out"), "output left: \(comment)")
        #expect(!run.dir.contents().contains { $0.hasPrefix(".out.kiln-") }, "staging left: \(comment)")
        #expect(!run.output.combined.contains("Fatal error"), "crash: \(comment)")
    }

    @Test func tinyImageBuildsEveryDiskFormat() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let out = dir.path + "/tiny"
        let result = try await runKiln(["build", Repo.root + "/Tests/Templates/tiny.yaml", "--output-dir", out],
                                       environment: ["KILN_WORK_DIR": dir.path + "/work"])
        #expect(result.status == 0, "\(result.combined)")
        #expect(result.stdout.contains("stdout line"))
        #expect(result.stdout.contains("stderr line"))
        #expect(dir.contents("/tiny") == ["SHA256SUMS", "manifest.json", "tiny-libvirt.box", "tiny.ova", "tiny.qcow2", "tiny.raw",
                                          "tiny.vdi", "tiny.vhd", "tiny.vhdx", "tiny.vmdk"])
        // An OVA is a tar with the descriptor first, then the manifest, then the disk.
        let members = try await runTool("/bin/tar", ["-tf", out + "/tiny.ova"])
        #expect(members.stdout == "tiny.ovf\ntiny.mf\ntiny-disk1.vmdk\n", "\(members.stdout)")
        let box = try await runTool("/bin/tar", ["-tf", out + "/tiny-libvirt.box"])
        #expect(Set(box.stdout.split(separator: "\n")) == ["metadata.json", "Vagrantfile", "box.img"], "\(box.stdout)")
        let formats = ["tiny.qcow2": "qcow2", "tiny.raw": "raw", "tiny.vdi": "vdi", "tiny.vhd": "vpc", "tiny.vhdx": "vhdx",
                       "tiny.vmdk": "vmdk"]
        for (file, format) in formats {
            let compare = try await runTool("/usr/bin/qemu-img", ["compare", "-f", "qcow2", "-F", format,
                                                                  out + "/tiny.qcow2", out + "/" + file])
            #expect(compare.status == 0, "\(file): \(compare.combined)")
            let info = try await runTool("/usr/bin/qemu-img", ["info", "--output=json", "-f", format, out + "/" + file])
            #expect(info.stdout.contains("\"format\": \"\(format)\""), "\(file): \(info.stdout)")
        }
        // The provisioned file is inside the exported images.
        let written = try await runTool("/usr/bin/virt-cat", ["-a", out + "/tiny.vmdk", "/etc/kiln-test"])
        #expect(written.stdout == "provisioned by kiln\n", "\(written.combined)")
        let uploaded = try await runTool("/usr/bin/virt-cat", ["-a", out + "/tiny.vhdx", "/opt/kiln/sub/tool.sh"])
        #expect(uploaded.stdout.contains("echo tool"), "\(uploaded.combined)")
        #expect(try await kilnDomains(build: "tiny", under: dir.path).isEmpty)
        #expect(dir.contents("/work").isEmpty)
    }

    /// Seeding through libguestfs (no credentials), offline steps before and after the online ones,
    /// and generalize, on the real appliance; then the exported disks boot and answer SSH again.
    @Test func guestfsSeedOfflineStepsGeneralizeAndExportedDisksBoot() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let text = Self.template(provisioners: """
              - write: { path: /etc/kiln-offline, content: "written offline" }
              - shell: cat /etc/kiln-offline > /etc/kiln-online
              - hostname: kiln-tiny
        """, outputs: "[vmdk, vdi, vhd]").replacingOccurrences(of: "seed: credentials", with: "seed: guestfs")
            .replacingOccurrences(of: "generalize: false", with: "generalize: { enabled: true, keep: [ssh-host-keys] }")
        try Data(text.utf8).write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
        let out = dir.path + "/out"
        let output = try await runKiln(["build", dir.path + "/t.yaml", "--output-dir", out],
                                       environment: ["KILN_WORK_DIR": dir.path + "/work"])
        #expect(output.status == 0, "\(output.combined)")
        #expect(output.stdout.contains("appliance launch"))
        let online = try await runTool("/usr/bin/virt-cat", ["-a", out + "/fault.vmdk", "/etc/kiln-online"])
        #expect(online.stdout == "written offline", "\(online.combined)")
        let hostname = try await runTool("/usr/bin/virt-cat", ["-a", out + "/fault.vmdk", "/etc/hostname"])
        #expect(hostname.stdout.contains("kiln-tiny"))
        let keys = try await runTool("/usr/bin/virt-cat", ["-a", out + "/fault.vmdk", "/root/.ssh/authorized_keys"])
        #expect(!keys.stdout.contains("ssh-ed25519"), "generalize left the build's key: \(keys.stdout)")

        // QEMU boots each exported disk and the guest answers SSH: build again on top of it.
        for file in ["fault.vmdk", "fault.vdi", "fault.vhd"] {
            let again = Self.template(provisioners: "      - shell: cat /etc/kiln-online")
                .replacingOccurrences(of: "\(Self.images)/tiny.qcow2", with: out + "/" + file)
            try Data(again.utf8).write(to: URL(fileURLWithPath: dir.path + "/again.yaml"))
            let boot = try await runKiln(["build", dir.path + "/again.yaml", "--output-dir", dir.path + "/again-" + file],
                                         environment: ["KILN_WORK_DIR": dir.path + "/work"])
            #expect(boot.status == 0, "\(file): \(boot.combined)")
            #expect(boot.stdout.contains("written offline"), "\(file): \(boot.stdout)")
        }
        #expect(try await kilnDomains(build: "fault", under: dir.path).isEmpty)
        #expect(dir.contents("/work").isEmpty)
    }

    @Test func sshThatNeverAnswersTimesOutWithTheConsoleTail() async throws {
        // Nothing listens on guest port 2222: the build must time out and show what the guest printed.
        let run = try await build(Self.template(provisioners: "      - shell: true", extra: "    ssh: { port: 2222, timeout: 15s }"))
        defer { run.dir.remove() }
        #expect(run.output.status == 1, "\(run.output.combined)")
        #expect(run.output.stderr.contains("timed out after 15s waiting for SSH on 127.0.0.1:"))
        #expect(run.output.stderr.contains("serial console"))
        #expect(run.output.stderr.contains("last error"))
        try await expectNothingLeft(run, "ssh timeout")
    }

    @Test func guestPoweringOffMidStepIsAClearError() async throws {
        let run = try await build(Self.template(provisioners: "      - shell: poweroff\n      - shell: echo never"))
        defer { run.dir.remove() }
        #expect(run.output.status == 1, "\(run.output.combined)")
        #expect(run.output.stderr.contains("the guest stopped during"),
                "\(run.output.stderr)")
        try await expectNothingLeft(run, "guest poweroff")
    }

    @Test func qemuKilledDuringProvisioningIsAClearError() async throws {
        let text = Self.template(provisioners: "      - shell: |\n          echo ready\n          sleep 120")
        let dir = try TempDirectory()
        defer { dir.remove() }
        try Data(text.utf8).write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
        let process = try RunningProcess(Repo.kiln, ["build", dir.path + "/t.yaml", "--output-dir", dir.path + "/out"],
                                         environment: ["KILN_WORK_DIR": dir.path + "/work"])
        #expect(await process.waitForOutput(containing: "ready", timeout: .seconds(300)))
        let work = try #require(dir.contents("/work").first)
        _ = try await runTool("/usr/bin/pkill", ["-KILL", "-f", "guest=\(work)"])
        let output = await process.wait(timeout: .seconds(120))
        #expect(output.status == 1, "\(output.combined)")
        #expect(output.stderr.contains("the guest stopped during") || output.stderr.contains("lost the SSH connection"), "\(output.stderr)")
        try await expectNothingLeft(Run(output: output, dir: dir), "qemu killed")
    }

    @Test func fullDiskWhileConvertingLeavesNoPartialArtifact() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let small = dir.path + "/small"
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        let mount = try await runTool("/bin/mount", ["-t", "tmpfs", "-o", "size=2M", "tmpfs", small])
        try #require(mount.status == 0, "cannot mount a tmpfs: \(mount.combined)")
        var output: ProcessOutput?
        do {
            try Data(Self.template(provisioners: "      - shell: dd if=/dev/urandom of=/root/blob bs=1M count=8", outputs: "[raw]").utf8)
                .write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
            output = try await runKiln(["build", dir.path + "/t.yaml", "--output-dir", small + "/out"],
                                       environment: ["KILN_WORK_DIR": dir.path + "/work"], timeout: .seconds(400))
        } catch {
            Issue.record("\(error)")
        }
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: small)) ?? []
        _ = try await runTool("/bin/umount", [small])
        let result = try #require(output)
        #expect(result.status == 1, "\(result.combined)")
        #expect(result.stderr.contains("No space left"), "\(result.stderr)")
        #expect(leftovers.isEmpty, "partial artifacts on the full disk: \(leftovers)")
        #expect(dir.contents("/work").isEmpty)
        #expect(try await kilnDomains(build: "fault", under: dir.path).isEmpty)
    }

    /// The tiny guest's root is a 63 MiB ext4 filesystem (/tmp is a tmpfs, so scripts still upload).
    @Test func guestDiskFullInAShellProvisionerShowsItsStatusAndLastLines() async throws {
        let run = try await build(Self.template(provisioners: """
              - shell: |
                  echo filling the guest disk
                  dd if=/dev/zero of=/fill bs=1M
                  echo never reached
              - shell: echo never run
        """))
        defer { run.dir.remove() }
        let stderr = run.output.stderr
        #expect(run.output.status == 1, "\(run.output.combined)")
        #expect(stderr.contains("exited with status 1"), "\(stderr)")
        #expect(stderr.contains("last lines of its output:"), "\(stderr)")
        #expect(stderr.contains("| filling the guest disk"), "\(stderr)")
        #expect(stderr.contains("No space left on device"), "\(stderr)")
        #expect(!run.output.stdout.contains("never r"), "the build went on after the failure")
        try await expectNothingLeft(run, "guest disk full")
    }

    @Test func uploadToAFullGuestDiskNamesTheFileAndTheReason() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try Data(repeating: 0x6B, count: 1 << 20).write(to: URL(fileURLWithPath: dir.path + "/blob"))
        let run = try await build(Self.template(provisioners: """
              - shell: dd if=/dev/zero of=/fill bs=1M || df /
              - file: { source: \(dir.path)/blob, destination: /opt/blob }
        """))
        defer { run.dir.remove() }
        let stderr = run.output.stderr
        #expect(run.output.status == 1, "\(run.output.combined)")
        #expect(stderr.contains("/opt/blob"), "\(stderr)")
        #expect(stderr.contains("No space left on device"), "\(stderr)")
        try await expectNothingLeft(run, "upload to a full disk")
    }

    @Test func fourBuildsOfOneTemplateAtOnceAllSucceed() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try Data(Self.template(provisioners: "      - shell: echo parallel > /etc/kiln-parallel").utf8)
            .write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
        let processes = try (1...4).map { index in
            try RunningProcess(Repo.kiln, ["build", dir.path + "/t.yaml", "--output-dir", dir.path + "/out\(index)"],
                               environment: ["KILN_WORK_DIR": dir.path + "/work"])
        }
        var outputs: [ProcessOutput] = []
        for process in processes { outputs.append(await process.wait(timeout: .seconds(600))) }
        for (index, output) in outputs.enumerated() {
            #expect(output.status == 0, "build \(index + 1): \(output.combined)")
        }
        let ports = outputs.compactMap { output in
            output.stdout.range(of: #"127\.0\.0\.1:[0-9]+"#, options: .regularExpression).map { String(output.stdout[$0]) }
        }
        #expect(Set(ports).count == 4, "forwarded ports collided: \(ports)")
        for index in 1...4 { #expect(dir.contents("/out\(index)").contains("fault.qcow2")) }
        #expect(dir.contents("/work").isEmpty)
        #expect(try await kilnDomains(build: "fault", under: dir.path).isEmpty)
    }
}
