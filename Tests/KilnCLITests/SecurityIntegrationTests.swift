import Foundation
import Testing

/// What Kiln promises about secrets, keys, listening sockets, uploads and file modes, checked on
/// real builds of the tiny test image (scripts/build-test-image).
@Suite(.serialized, .enabled(if: Repo.integration, "set KILN_INTEGRATION=1 (scripts/test does)"))
struct SecurityIntegrationTests {
    static let images = FaultIntegrationTests.images
    static let secret = "kiln-S3cret-t0ken-4711"

    /// A tiny-image build named `secure`.
    static func template(provisioners: String, outputs: String = "[qcow2]", variables: String = "") -> String {
        """
        \(variables)
        builds:
          - name: secure
            \(TinyGuest.buildLines(indent: 4))
            shutdown: { command: poweroff, timeout: 30s }
            generalize: false
            provisioners:
        \(provisioners)
            outputs: \(outputs)
        """
    }

    func write(_ text: String, to dir: TempDirectory, name: String = "t.yaml") throws -> String {
        let path = dir.path + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func expectNothingLeft(_ dir: TempDirectory, _ comment: String) async throws {
        #expect(try await kilnDomains(build: "secure", under: dir.path).isEmpty, "domain left: \(comment)")
        #expect(dir.contents("/work").isEmpty, "work directory left: \(comment)")
    }

    // MARK: secrets

    @Test func sensitiveValuesAreMaskedInOutputEventsManifestErrorsAndInspect() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path + "/files", withIntermediateDirectories: true)
        try Data("payload\n".utf8).write(to: URL(fileURLWithPath: dir.path + "/files/payload.txt"))
        // The secret goes through env, inline text, both output streams and a step title (the destination).
        let steps = """
              - shell: |
                  echo "env says $TOKEN"
                  echo "inline says ${var.token}" >&2
                env: { TOKEN: "${var.token}" }
              - file: { source: files/, destination: "/opt/${var.token}/" }
        """
        let variables = "variables:\n  token: { sensitive: true }"
        let good = try write(Self.template(provisioners: steps, variables: variables), to: dir)
        let environment = ["KILN_WORK_DIR": dir.path + "/work", "KILN_VAR_token": Self.secret]

        // --json: every event, then the manifest.
        let json = try await runKiln(["build", good, "--output-dir", dir.path + "/json", "--json"], environment: environment)
        #expect(json.status == 0, "\(json.combined)")
        #expect(!json.combined.contains(Self.secret), "the secret is in the JSON events: \(json.combined)")
        #expect(json.stdout.contains("env says <sensitive>"), "\(json.stdout.suffix(3000))")
        #expect(json.stdout.contains("inline says <sensitive>"))
        #expect(json.stdout.contains("/opt/<sensitive>/"))
        for line in json.stdout.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not a JSON event: \(line)")
        }
        #expect(json.stdout.contains(#""event":"build_finished""#), "\(json.stdout.suffix(1000))")
        let manifest = try String(contentsOfFile: dir.path + "/json/manifest.json", encoding: .utf8)
        #expect(!manifest.contains(Self.secret), "the secret is in the manifest: \(manifest)")
        #expect((try? JSONSerialization.jsonObject(with: Data(manifest.utf8))) != nil)

        // Plain output, ending in an error whose last lines quote the secret.
        let failing = try write(Self.template(provisioners: steps + "\n      - shell: echo \"failing with ${var.token}\"; exit 4",
                                              variables: variables), to: dir, name: "failing.yaml")
        let plain = try await runKiln(["build", failing, "--output-dir", dir.path + "/plain", "--var", "token=\(Self.secret)"],
                                      environment: ["KILN_WORK_DIR": dir.path + "/work"])
        #expect(plain.status == 1, "\(plain.combined)")
        #expect(plain.stderr.contains("exited with status 4"), "\(plain.stderr)")
        #expect(plain.stderr.contains("failing with <sensitive>"), "\(plain.stderr)")
        #expect(plain.stdout.contains("env says <sensitive>"), "\(plain.stdout.suffix(3000))")
        #expect(!plain.combined.contains(Self.secret), "the secret is in the terminal output: \(plain.combined)")

        let inspect = try await runKiln(["inspect", failing], environment: environment)
        #expect(inspect.status == 0, "\(inspect.combined)")
        #expect(inspect.stdout.contains("token (string) = <sensitive>"), "\(inspect.stdout)")
        #expect(!inspect.combined.contains(Self.secret), "the secret is in inspect: \(inspect.stdout)")
        try await expectNothingLeft(dir, "secrets")
    }

    // MARK: keys and sockets

    /// The listening TCP sockets (local address as /proc/net/tcp{,6} writes it) of a process.
    static func listeningSockets(pid: String) -> [String] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        let inodes = Set(fds.compactMap { fd -> String? in
            guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                  link.hasPrefix("socket:[") else { return nil }
            return String(link.dropFirst(8).dropLast())
        })
        var addresses: [String] = []
        for table in ["tcp", "tcp6"] {
            let text = (try? String(contentsOfFile: "/proc/\(pid)/net/\(table)", encoding: .utf8)) ?? ""
            for row in text.split(separator: "\n").dropFirst() {
                let fields = row.split(separator: " ")
                // sl local rem st tx:rx tr:when retrnsmt uid timeout inode; st 0A is LISTEN.
                guard fields.count > 9, fields[3] == "0A", inodes.contains(String(fields[9])) else { continue }
                addresses.append(String(fields[1]))
            }
        }
        return addresses
    }

    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? NSNumber)?.intValue ?? -1
    }

    @Test func keysArePrivateAndGoneAfterAndQEMUListensOnLoopbackOnly() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let path = try write(Self.template(provisioners: """
              - shell: |
                  echo build-is-running
                  sleep 15
        """), to: dir)
        let build = try RunningProcess(Repo.kiln, ["build", path, "--output-dir", dir.path + "/out"],
                                       environment: ["KILN_WORK_DIR": dir.path + "/work"])
        #expect(await build.waitForOutput(containing: "build-is-running", timeout: .seconds(300)), "\(build.stdoutSoFar)")
        let work = dir.path + "/work/" + (dir.contents("/work").first ?? "?")
        let key = work + "/keys/id_ed25519"
        #expect(String(Self.mode(work), radix: 8) == "700", "work directory \(work)")
        #expect(String(Self.mode(work + "/keys"), radix: 8) == "700", "key directory")
        #expect(String(Self.mode(key), radix: 8) == "600", "private key \(key)")
        let sshPort = build.stdoutSoFar.range(of: #"127\.0\.0\.1:[0-9]+ answered"#, options: .regularExpression)
            .map { build.stdoutSoFar[$0].dropFirst(10).prefix { $0.isNumber } }.flatMap { Int($0) }

        let domain = try #require(try await kilnDomains(build: "secure", under: dir.path).first)
        let xml = try await runTool("/usr/bin/virsh", ["-c", "qemu:///system", "dumpxml", domain]).stdout
        #expect(xml.contains("hostfwd=tcp:127.0.0.1:"), "\(xml)")
        #expect(!xml.contains("<graphics"), "the domain has a graphical console: \(xml)")
        #expect(xml.contains("<serial type='file'>"), "the serial console is not a file: \(xml)")
        let pid = try String(contentsOfFile: "/run/libvirt/qemu/\(domain).pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let cmdline = try String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8).replacingOccurrences(of: "\0", with: " ")
        #expect(!cmdline.contains("-vnc") && !cmdline.contains("-spice"), "\(cmdline)")
        let sockets = Self.listeningSockets(pid: pid)
        #expect(!sockets.isEmpty, "QEMU (pid \(pid)) listens on nothing: the forwarded port should be there")
        // 0100007F is 127.0.0.1 in /proc's byte order; IPv6 sockets would be written with 32 hex digits.
        for socket in sockets {
            #expect(socket.hasPrefix("0100007F:"), "QEMU listens on \(socket), not on 127.0.0.1 only")
        }
        if let sshPort {
            let hexPort = String(format: "%04X", sshPort)
            #expect(sockets.contains("0100007F:" + hexPort), "the forwarded port \(sshPort) is not among \(sockets)")
        } else {
            Issue.record("no forwarded port in the output: \(build.stdoutSoFar)")
        }

        let output = await build.wait(timeout: .seconds(300))
        #expect(output.status == 0, "\(output.combined)")
        #expect(!FileManager.default.fileExists(atPath: key), "the private key outlived the build")
        try await expectNothingLeft(dir, "keys")
    }

    // MARK: uploads

    @Test func aFileDestinationWithDotDotIsRefusedBeforeAnythingIsCreated() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.path + "/x"))
        let path = try write(Self.template(provisioners: "      - file: { source: x, destination: /tmp/../etc/x }"), to: dir)
        let output = try await runKiln(["build", path, "--output-dir", dir.path + "/out"],
                                       environment: ["KILN_WORK_DIR": dir.path + "/work"])
        #expect(output.status == 2, "\(output.combined)")
        #expect(output.stderr.contains("must not contain '..'"), "\(output.stderr)")
        #expect(dir.contents("/work").isEmpty)
        #expect(!dir.contents().contains("out"))
    }

    @Test func aSourceLinkLeadingOutOfTheUploadedDirectoryIsRefused() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path + "/files", withIntermediateDirectories: true)
        try Data("fine\n".utf8).write(to: URL(fileURLWithPath: dir.path + "/files/fine.txt"))
        try Data("host secret\n".utf8).write(to: URL(fileURLWithPath: dir.path + "/host-secret"))
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/files/leak", withDestinationPath: "../host-secret")
        let path = try write(Self.template(provisioners: """
              - file: { source: files/, destination: /opt/upload/ }
              - shell: echo never run
        """), to: dir)
        let output = try await runKiln(["build", path, "--output-dir", dir.path + "/out"],
                                       environment: ["KILN_WORK_DIR": dir.path + "/work"])
        #expect(output.status == 1, "\(output.combined)")
        #expect(output.stderr.contains("refusing to upload \(dir.path)/files/leak"), "\(output.stderr)")
        #expect(output.stderr.contains("symbolic link"), "\(output.stderr)")
        #expect(!output.stdout.contains("never run"))
        #expect(!dir.contents().contains("out"))
        try await expectNothingLeft(dir, "link out of the source")
    }

    // MARK: file modes

    @Test(arguments: [(0o077, 0o600, 0o700), (0o022, 0o644, 0o755)])
    func artifactsFollowTheUmask(umask: Int, fileMode: Int, directoryMode: Int) async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let path = try write(Self.template(provisioners: "      - shell: echo hi",
                                           outputs: "[qcow2, vmdk, vhdx, ova, { vagrant: { provider: libvirt } }]"), to: dir)
        let out = dir.path + "/out"
        let command = "umask \(String(umask, radix: 8)) && exec \"$0\" build \"$1\" --output-dir \"$2\""
        let output = try await RunningProcess("/bin/sh", ["-c", command, Repo.kiln, path, out],
                                              environment: ["KILN_WORK_DIR": dir.path + "/work"]).wait(timeout: .seconds(600))
        #expect(output.status == 0, "\(output.combined)")
        let files = dir.contents("/out")
        #expect(files == ["SHA256SUMS", "manifest.json", "secure-libvirt.box", "secure.ova", "secure.qcow2", "secure.vhdx",
                          "secure.vmdk"], "\(files)")
        #expect(String(Self.mode(out), radix: 8) == String(directoryMode, radix: 8), "output directory")
        for file in files {
            #expect(String(Self.mode(out + "/" + file), radix: 8) == String(fileMode, radix: 8), "\(file) with umask \(String(umask, radix: 8))")
        }
        try await expectNothingLeft(dir, "umask")
    }
}
