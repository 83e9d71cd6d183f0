import Foundation
import KilnTestSupport
import Testing

/// SIGINT or SIGTERM at each long step of a real build: downloading, bootstrapping, waiting for
/// SSH, provisioning, shutting down, generalizing, converting, uploading to AWS. Each must exit 130
/// and leave no domain, work directory, cache temp, output, or AWS resource.
@Suite(.serialized, .enabled(if: Repo.integration, "set KILN_INTEGRATION=1 (scripts/test does)"))
struct InterruptIntegrationTests {
    static let images = FaultIntegrationTests.images

    static let tiny = """
        builds:
          - name: stop
            \(TinyGuest.buildLines(indent: 4))
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
        #expect(try await kilnDomains(build: "stop", under: dir.path).isEmpty, "\(step): domain left")
        #expect(dir.contents("/work").isEmpty, "\(step): work directory left")
        #expect(!dir.contents().contains("out"), "\(step): output left")
        #expect(!dir.contents().contains { $0.hasPrefix(".out.kiln-") }, "\(step): partial outputs left")
        if freshCache {
            let leftovers = dir.contents("/cache/bootstrap").filter { $0.hasPrefix(".tmp-") }
            #expect(leftovers.isEmpty, "\(step): bootstrap temp left: \(leftovers)")
        }
    }

    /// A tiny-image build named `stop` with the given parts (YAML, indented for a build's keys).
    static func tinyBuild(source: String = "{ image: \(images)/tiny.qcow2 }", ssh: String = "{ timeout: 2m }",
                          shutdown: String = "{ command: poweroff }", provisioners: String = "      - shell: echo provisioned") -> String {
        """
        builds:
          - name: stop
            source: \(source)
            machine:
              cpus: 1
              memory: 256
              kernel: { path: \(images)/vmlinuz, initrd: \(images)/tiny-initrd.gz, cmdline: "console=ttyS0 quiet" }
            seed: credentials
            ssh: \(ssh)
            shutdown: \(shutdown)
            generalize: false
            provisioners:
        \(provisioners)
            outputs: [qcow2]
        """
    }

    /// Starts `kiln build`, waits for `marker` on stdout, then `settle`, then for `ready`, sends
    /// `signal`, and checks the documented exit code and that nothing of the build is left.
    static func interrupt(_ template: String, in dir: TempDirectory, step: String, marker: String, signal: Int32 = SIGINT,
                          environment: [String: String] = [:], settle: Duration = .zero,
                          ready: @Sendable () async -> Bool = { true }) async throws -> ProcessOutput {
        try Data(template.utf8).write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
        let build = try RunningProcess(Repo.kiln, ["build", dir.path + "/t.yaml", "--output-dir", dir.path + "/out"],
                                       environment: ["KILN_WORK_DIR": dir.path + "/work"].merging(environment) { $1 })
        let reached = await build.waitForOutput(containing: marker, timeout: .seconds(400))
        #expect(reached, "\(step): never saw '\(marker)': \(build.stdoutSoFar.suffix(2000))")
        try await Task.sleep(for: settle)
        var isReady = false
        for _ in 0..<300 where reached && !isReady {
            isReady = await ready()
            if !isReady { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(isReady, "\(step): the build never got where the signal should land: \(build.stdoutSoFar.suffix(2000))")
        #expect(build.process.isRunning, "\(step): the build ended before the signal: \(build.stdoutSoFar.suffix(2000))")
        build.signal(signal)
        let output = await build.wait(timeout: .seconds(180))
        #expect(output.status == 130, "\(step): \(output.combined.suffix(3000))")
        #expect(output.stderr.contains("interrupted"), "\(step): \(output.stderr.suffix(2000))")
        #expect(!output.combined.contains("Fatal error"), "\(step): crash")
        #expect(try await kilnDomains(build: "stop", under: dir.path).isEmpty, "\(step): domain left")
        #expect(dir.contents("/work").isEmpty, "\(step): work directory left")
        #expect(!dir.contents().contains("out"), "\(step): output left")
        #expect(!dir.contents().contains { $0.hasPrefix(".out.kiln-") }, "\(step): partial outputs left")
        return output
    }

    /// Serves one file slowly (16 KiB every 100 ms) on 127.0.0.1; GET /ready answers at once.
    static let slowServer = #"""
        import http.server, sys, time
        path, port = sys.argv[1], int(sys.argv[2])
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def do_GET(self):
                data = b"" if self.path == "/ready" else open(path, "rb").read()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    for i in range(0, len(data), 16384):
                        self.wfile.write(data[i:i + 16384]); self.wfile.flush(); time.sleep(0.1)
                except (BrokenPipeError, ConnectionResetError):
                    pass
        http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
        """#

    @Test func sigintWhileDownloadingLeavesNoPartialFileInTheCache() async throws {
        let server = try await LocalHTTPServer.start("python3", ["-c", Self.slowServer, "\(Self.images)/tiny.qcow2", "{PORT}"],
                                                     readyPath: "ready")
        defer { server.stop() }
        let dir = try TempDirectory()
        defer { dir.remove() }
        let cache = dir.path + "/cache"
        let temporaries: @Sendable () -> [String] = {
            let all = FileManager.default.enumerator(atPath: cache)?.allObjects as? [String] ?? []
            return all.filter { ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") }
        }
        let template = Self.tinyBuild(source: "{ url: \"\(server.url.absoluteString)/tiny.qcow2\", checksum: none }")
        _ = try await Self.interrupt(template, in: dir, step: "downloading", marker: "downloading http://127.0.0.1",
                                     environment: ["KILN_CACHE_DIR": cache]) { !temporaries().isEmpty }
        let files = (FileManager.default.enumerator(atPath: cache)?.allObjects as? [String] ?? []).filter { path in
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: cache + "/" + path, isDirectory: &isDirectory)
            return !isDirectory.boolValue && (path as NSString).lastPathComponent != ".lock"
        }
        #expect(files.isEmpty, "the cache keeps files of the interrupted download: \(files)")
    }

    @Test func sigintWhileWaitingForSSH() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        // Nothing answers on guest port 2222: the build polls until the signal.
        _ = try await Self.interrupt(Self.tinyBuild(ssh: "{ port: 2222, timeout: 10m }"), in: dir, step: "waiting for ssh",
                                     marker: "==> stop: wait for ssh", settle: .seconds(5))
    }

    @Test(arguments: [
        ("its command runs", "{ command: \"sleep 300; poweroff\", timeout: 10m }", "shutting down: sleep 300"),
        ("waiting for power-off", "{ command: \"true\", timeout: 10m }", "shutting down: true"),
    ])
    func sigintWhileShuttingDown(phase: String, shutdown: String, marker: String) async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        _ = try await Self.interrupt(Self.tinyBuild(shutdown: shutdown), in: dir, step: "shutdown while \(phase)",
                                     marker: marker, settle: .seconds(3))
    }

    /// Forwards every request to moto_server; each EBS PutSnapshotBlock waits 0.5 s first, so the
    /// upload is still running when the signal comes. GET /_blocks says how many blocks went by.
    static let delayingProxy = #"""
        import http.client, http.server, sys, threading, time
        upstream, delay, port = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
        blocks, lock = 0, threading.Lock()
        class Proxy(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def reply(self, status, headers, body):
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD": self.wfile.write(body)
            def forward(self):
                global blocks
                if self.path == "/_blocks":
                    with lock: count = blocks
                    return self.reply(200, [], str(count).encode())
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.command == "PUT" and "/blocks/" in self.path:
                    with lock: blocks += 1
                    time.sleep(delay)
                connection = http.client.HTTPConnection("127.0.0.1", upstream, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                self.reply(response.status, response.getheaders(), response.read())
            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward
        http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
        """#

    /// Snapshot and image ids on moto (which comes with public images of its own: compare sets).
    static func awsResources(port: Int) async throws -> Set<String> {
        let list = try await RunningProcess("/usr/bin/env", ["python3", "-c", """
            import boto3
            ec2 = boto3.client("ec2", region_name="eu-west-1", endpoint_url="http://127.0.0.1:\(port)",
                               aws_access_key_id="x", aws_secret_access_key="y")
            for s in ec2.describe_snapshots()["Snapshots"]: print(s["SnapshotId"])
            for i in ec2.describe_images()["Images"]: print(i["ImageId"])
            """]).wait(timeout: .seconds(60))
        #expect(list.status == 0, "\(list.combined)")
        return Set(list.stdout.split(separator: "\n").map(String.init))
    }

    @Test func sigtermWhileUploadingToAWSLeavesNoSnapshotImageOrOutput() async throws {
        try await Moto.with { moto in
            let proxy = try await LocalHTTPServer.start("python3", ["-c", Self.delayingProxy, String(moto.port), "0.5", "{PORT}"],
                                                        readyPath: "_blocks")
            defer { proxy.stop() }
            let dir = try TempDirectory()
            defer { dir.remove() }
            let before = try await Self.awsResources(port: moto.port)
            // No provisioner: the cached Debian base (it can boot on EC2) goes straight to export and publish.
            let template = """
                builds:
                  - name: stop
                    source: { bootstrap: { suite: bookworm, packages: [curl] } }
                    generalize: false
                    outputs: [qcow2]
                    publish:
                      ami: { region: eu-west-1, name: "kiln-interrupt-${build.timestamp}" }
                """
            let environment = ["AWS_ENDPOINT_URL": proxy.url.absoluteString, "AWS_ACCESS_KEY_ID": "AKIAKILNTEST",
                               "AWS_SECRET_ACCESS_KEY": "kiln-test-secret-value"]
            let output = try await Self.interrupt(template, in: dir, step: "uploading", marker: "==> stop: publish ami",
                                                  signal: SIGTERM, environment: environment) {
                guard let data = try? Data(contentsOf: proxy.url.appendingPathComponent("_blocks")),
                      let count = Int(String(decoding: data, as: UTF8.self)) else { return false }
                return count >= 8
            }
            #expect(output.stdout.contains("delete snapshot snap-"), "\(output.stdout.suffix(3000))")
            let after = try await Self.awsResources(port: moto.port)
            #expect(after == before, "left in AWS: \(after.subtracting(before))")
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

