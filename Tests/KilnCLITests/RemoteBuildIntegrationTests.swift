import Foundation
import KilnTestSupport
import Testing

/// Whole builds with `--connect` to a second libvirtd on 127.0.0.1 over TCP, in a mount
/// namespace of its own (scripts/lib/remote-libvirtd.sh): the guest's disk lives in a pool that
/// this machine's filesystem does not show, so it got there, and came back, through the socket.
/// Each test stops its daemon (and any guest in it) even when it fails.
@Suite(.serialized, .enabled(if: Repo.integration, "set KILN_INTEGRATION=1 (scripts/test does)"))
struct RemoteBuildIntegrationTests {
    static let images = ProcessInfo.processInfo.environment["KILN_TEST_IMAGES"] ?? "/var/tmp/kiln-test-images"

    /// Builds of the tiny image, one per name, with the given provisioners (indented by 6).
    static func template(names: [String], provisioners: String = "      - shell: echo \"remote $(uname -r)\" > /etc/kiln-remote") -> String {
        "builds:\n" + names.map { name in
            """
              - name: \(name)
                \(TinyGuest.buildLines(indent: 4))
                ssh: { timeout: 2m }
                shutdown: { command: poweroff, timeout: 30s }
                generalize: false
                provisioners:
            \(provisioners)
                outputs: [qcow2]
                output_directory: out/\(name)
            """
        }.joined(separator: "\n")
    }

    /// Nothing of Kiln's is left on the daemon, in its pool directory, or on the host's libvirtd.
    func expectNothingLeft(on daemon: RemoteLibvirtd, _ dir: TempDirectory, _ comment: String) async throws {
        #expect(try await daemon.names(["list", "--all", "--name"]).isEmpty, "domain left there: \(comment)")
        #expect(try await daemon.names(["pool-list", "--all", "--name"]).isEmpty, "pool left there: \(comment)")
        #expect(try await daemon.insideNamespace("ls -A /var/lib/libvirt/images") == "", "files left there: \(comment)")
        #expect(try await kilnDomains().filter { $0.hasPrefix("kiln-remote") || $0.hasPrefix("kiln-tiny") }.isEmpty,
                "domain on the host's libvirtd: \(comment)")
        #expect(dir.contents("/work").isEmpty, "work directory left: \(comment)")
    }

    @Test func tinyTemplateBuildsOnTheRemoteDaemon() async throws {
        try await RemoteLibvirtd.with { daemon in
            let dir = try TempDirectory()
            defer { dir.remove() }
            let out = dir.path + "/tiny"
            let output = try await runKiln(["build", Repo.root + "/Tests/Templates/tiny.yaml", "--output-dir", out,
                                            "--connect", daemon.uri],
                                           environment: ["KILN_WORK_DIR": dir.path + "/work"])
            #expect(output.status == 0, "\(output.combined)")
            #expect(output.stdout.contains("on \(daemon.uri) (remote host 127.0.0.1): disk uploaded to pool kiln-tiny-"), "\(output.stdout)")
            #expect(output.stdout.contains("disk downloaded from pool kiln-tiny-"))
            #expect(output.stdout.contains("stdout line"), "provisioning output streams as usual")
            #expect(dir.contents("/tiny").contains("tiny.ova") && dir.contents("/tiny").contains("tiny.qcow2"))
            let written = try await runTool("/usr/bin/virt-cat", ["-a", out + "/tiny.qcow2", "/etc/kiln-test"])
            #expect(written.stdout == "provisioned by kiln\n", "\(written.combined)")
            let uploaded = try await runTool("/usr/bin/virt-cat", ["-a", out + "/tiny.qcow2", "/opt/kiln/sub/tool.sh"])
            #expect(uploaded.stdout.contains("echo tool"), "\(uploaded.combined)")
            try await expectNothingLeft(on: daemon, dir, "tiny build")
        }
    }

    @Test func severalTargetsShareTheBuildsRoundRobin() async throws {
        try await RemoteLibvirtd.with { first in
            try await RemoteLibvirtd.with { second in
                let dir = try TempDirectory()
                defer { dir.remove() }
                try Data(Self.template(names: ["remote-a", "remote-b", "remote-c"]).utf8)
                    .write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
                let output = try await runKiln(["build", dir.path + "/t.yaml", "--connect", first.uri, "--connect", second.uri],
                                               environment: ["KILN_WORK_DIR": dir.path + "/work"])
                #expect(output.status == 0, "\(output.combined)")
                for (build, daemon) in [("remote-a", first), ("remote-b", second), ("remote-c", first)] {
                    let line = output.stdout.split(separator: "\n").first { $0.contains("\(build): domain kiln-\(build)-") }
                    #expect(line?.contains("on \(daemon.uri) ") == true, "\(build): \(String(describing: line))")
                    let written = try await runTool("/usr/bin/virt-cat", ["-a", dir.path + "/out/\(build)/\(build).qcow2", "/etc/kiln-remote"])
                    #expect(written.stdout.hasPrefix("remote "), "\(build): \(written.combined)")
                }
                try await expectNothingLeft(on: first, dir, "first target")
                try await expectNothingLeft(on: second, dir, "second target")
            }
        }
    }

    /// libvirtd restarted under a running build (issue #8): the build stops with a clear error
    /// naming the URI, and its cleanup reconnects to remove the domain (if the restart left
    /// it) and its pool, while the daemon comes back.
    @Test(arguments: [("wait for ssh", "KILL"), ("provisioning started", "TERM"), ("provisioning started", "KILL")])
    func aRestartedDaemonStopsTheBuildAndLeavesNothing(phase: String, signal: String) async throws {
        try await RemoteLibvirtd.with { daemon in
            let dir = try TempDirectory()
            defer { dir.remove() }
            try Data(Self.template(names: ["remote-restart"], provisioners: """
                      - shell: |
                          echo provisioning started
                          sleep 15
                """).utf8).write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
            let build = try RunningProcess(Repo.kiln, ["build", dir.path + "/t.yaml", "--connect", daemon.uri],
                                           environment: ["KILN_WORK_DIR": dir.path + "/work"], directory: dir.path)
            let reached = await build.waitForOutput(containing: phase, timeout: .seconds(300))
            #expect(reached, "the build never reached \(phase): \(build.stdoutSoFar)")
            try await daemon.killDaemon(signal: signal)
            try await Task.sleep(for: .seconds(2))
            try await daemon.startDaemon()
            let output = await build.wait(timeout: .seconds(300))
            #expect(output.status == 1, "\(output.combined)")
            #expect(output.stderr.contains("lost the connection to libvirt at \(daemon.uri)"), "\(output.stderr)")
            #expect(!output.combined.contains("Fatal error"))
            #expect(!dir.contents().contains("out"))
            try await expectNothingLeft(on: daemon, dir, "\(signal) during \(phase)")
        }
    }

    @Test func interruptDuringARemoteBuildRemovesItsPool() async throws {
        try await RemoteLibvirtd.with { daemon in
            let dir = try TempDirectory()
            defer { dir.remove() }
            try Data(Self.template(names: ["remote-interrupted"]).utf8).write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
            let build = try RunningProcess(Repo.kiln, ["build", dir.path + "/t.yaml", "--connect", daemon.uri],
                                           environment: ["KILN_WORK_DIR": dir.path + "/work"], directory: dir.path)
            #expect(await build.waitForOutput(containing: "wait for ssh", timeout: .seconds(300)))
            #expect(try await daemon.names(["pool-list", "--all", "--name"]).count == 1)
            build.signal(SIGINT)
            let output = await build.wait(timeout: .seconds(120))
            #expect(output.status == 130, "\(output.combined)")
            try await expectNothingLeft(on: daemon, dir, "SIGINT")
        }
    }

    /// A build killed with SIGKILL leaves its pool on the remote host (its domain goes with its
    /// connection); `kiln clean --connect` removes it, knowing the owner is dead.
    @Test func cleanRemovesWhatAKilledRemoteBuildLeft() async throws {
        try await RemoteLibvirtd.with { daemon in
            let dir = try TempDirectory()
            defer { dir.remove() }
            try Data(Self.template(names: ["remote-killed"]).utf8).write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
            let build = try RunningProcess(Repo.kiln, ["build", dir.path + "/t.yaml", "--connect", daemon.uri],
                                           environment: ["KILN_WORK_DIR": dir.path + "/work"], directory: dir.path)
            #expect(await build.waitForOutput(containing: "wait for ssh", timeout: .seconds(300)))
            build.signal(SIGKILL)
            _ = await build.wait(timeout: .seconds(30))
            #expect(try await daemon.names(["pool-list", "--all", "--name"]).count == 1, "the killed build's pool is still there")
            let clean = try await runKiln(["clean", "--connect", daemon.uri], environment: ["KILN_WORK_DIR": dir.path + "/work"])
            #expect(clean.status == 0, "\(clean.combined)")
            #expect(clean.stdout.contains("removed storage pool kiln-remote-killed-"), "\(clean.stdout)")
            try await Task.sleep(for: .seconds(1))
            try await expectNothingLeft(on: daemon, dir, "after kiln clean")
        }
    }
}
