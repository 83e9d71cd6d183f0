import Foundation
import Testing

/// `publish: ami` end to end: a real build whose disk is registered as an AMI on moto_server,
/// the AWS endpoint started here on 127.0.0.1.
@Suite(.serialized, .enabled(if: Repo.integration, "set KILN_INTEGRATION=1 (scripts/test does)"))
struct PublishIntegrationTests {
    /// Starts moto_server on a free-ish port of 127.0.0.1 and waits until it answers.
    static func startMoto() async throws -> (RunningProcess, Int) {
        let port = Int.random(in: 20000...40000)
        let moto = try RunningProcess("/usr/bin/env", ["moto_server", "-H", "127.0.0.1", "-p", String(port)])
        for _ in 0..<100 {
            if (try? Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/moto-api/")!)) != nil { return (moto, port) }
            try await Task.sleep(for: .milliseconds(200))
        }
        moto.signal(SIGKILL)
        throw CancellationError()
    }

    static func template(source: String, extra: String = "") -> String {
        """
        builds:
          - name: ami
            source: \(source)
        \(extra)
            shutdown: { command: "poweroff" }
            generalize: false
            provisioners:
              - shell: echo published > /etc/kiln-ami
            outputs: [qcow2]
            publish:
              ami:
                region: eu-west-1
                name: "kiln-test-${build.timestamp}"
                tags: { team: images }
        """
    }

    static func environment(_ dir: TempDirectory, port: Int) -> [String: String] {
        ["KILN_WORK_DIR": dir.path + "/work", "AWS_ENDPOINT_URL": "http://127.0.0.1:\(port)",
         "AWS_ACCESS_KEY_ID": "AKIAKILNTEST", "AWS_SECRET_ACCESS_KEY": "kiln-test-secret-value"]
    }

    @Test func aDiskWithoutABootloaderIsRefusedBeforeUpload() async throws {
        let (moto, port) = try await Self.startMoto()
        // SIGKILL: a child started through Foundation.Process inherits the runner's blocked signal mask, so SIGTERM stays pending.
        defer { moto.signal(SIGKILL) }
        let dir = try TempDirectory()
        defer { dir.remove() }
        let images = FaultIntegrationTests.images
        try Data(Self.template(source: "{ image: \(images)/tiny.qcow2 }", extra: """
                machine:
                  cpus: 1
                  memory: 256
                  kernel: { path: \(images)/vmlinuz, initrd: \(images)/tiny-initrd.gz, cmdline: "console=ttyS0 quiet" }
                seed: credentials
            """).utf8).write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
        let output = try await runKiln(["build", dir.path + "/t.yaml", "--output-dir", dir.path + "/out"],
                                       environment: Self.environment(dir, port: port))
        #expect(output.status == 1, "\(output.combined)")
        #expect(output.stderr.contains("cannot boot on EC2"), "\(output.stderr)")
        #expect(!dir.contents().contains("out"))
        #expect(dir.contents("/work").isEmpty)
    }

    @Test func buildPublishesAnAMIAndRecordsItInTheManifest() async throws {
        let (moto, port) = try await Self.startMoto()
        // SIGKILL: a child started through Foundation.Process inherits the runner's blocked signal mask, so SIGTERM stays pending.
        defer { moto.signal(SIGKILL) }
        let dir = try TempDirectory()
        defer { dir.remove() }
        try Data(Self.template(source: "{ bootstrap: { suite: bookworm, packages: [curl] } }").utf8)
            .write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
        let output = try await runKiln(["build", dir.path + "/t.yaml", "--output-dir", dir.path + "/out"],
                                       environment: Self.environment(dir, port: port))
        #expect(output.status == 0, "\(output.combined)")
        #expect(!output.combined.contains("kiln-test-secret-value"), "the secret key was printed")

        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.path + "/out/manifest.json"))) as! [String: Any]
        let build = (manifest["builds"] as! [[String: Any]])[0]
        let ami = try #require((build["kiln"] as? [String: Any])?["ami"] as? [String: Any])
        let imageID = try #require(ami["imageID"] as? String ?? ami["image_id"] as? String)
        #expect(imageID.hasPrefix("ami-"))
        #expect(ami["region"] as? String == "eu-west-1")
        #expect((build["artifact_id"] as? String)?.hasSuffix(imageID) == true)

        // The image exists on the endpoint, tagged.
        let describe = try await RunningProcess("/usr/bin/env", ["python3", "-c", """
            import boto3
            ec2 = boto3.client("ec2", region_name="eu-west-1", endpoint_url="http://127.0.0.1:\(port)",
                               aws_access_key_id="x", aws_secret_access_key="y")
            image = ec2.describe_images(ImageIds=["\(imageID)"])["Images"][0]
            print(image["State"], sorted(t["Key"] for t in image.get("Tags", [])))
            """]).wait(timeout: .seconds(60))
        #expect(describe.stdout.hasPrefix("available"), "\(describe.combined)")
        #expect(describe.stdout.contains("kiln:build"), "\(describe.combined)")
        #expect(try await kilnDomains(build: "ami").isEmpty)
        #expect(dir.contents("/work").isEmpty)
    }
}
