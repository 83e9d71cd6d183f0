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

    /// `method: import` through the binary: an offline-only build (no boot) of a disk with an MBR
    /// and boot code, S3 on moto_server, EC2's import calls on scripts/lib/ec2-import-stub.py.
    @Test func importBuildUploadsImportsAndRecordsTheTask() async throws {
        let (moto, port) = try await Self.startMoto()
        defer { moto.signal(SIGKILL) }
        let dir = try TempDirectory()
        defer { dir.remove() }
        var disk = Data(count: 8 << 20)
        for index in 0..<440 { disk[index] = UInt8(truncatingIfNeeded: index &* 7 &+ 1) }
        disk[446 + 4] = 0x83
        disk[446 + 8] = 1
        disk[446 + 12] = 0xFF
        disk[510] = 0x55
        disk[511] = 0xAA
        disk.replaceSubrange((1 << 20)..<(1 << 20) + 4096, with: Data(repeating: 0x42, count: 4096))
        try disk.write(to: URL(fileURLWithPath: dir.path + "/disk.raw"))
        let converted = try await runTool("/usr/bin/qemu-img", ["convert", "-f", "raw", "-O", "qcow2", dir.path + "/disk.raw",
                                                                dir.path + "/disk.qcow2"])
        #expect(converted.status == 0, "\(converted.combined)")

        let stubPort = Int.random(in: 40001...50000)
        let stub = try RunningProcess("/usr/bin/env", ["python3", Repo.root + "/scripts/lib/ec2-import-stub.py", String(stubPort),
                                                       #"[["active", "converting"], ["completed", ""]]"#, dir.path + "/ec2.log"])
        defer { stub.signal(SIGKILL) }
        let boto = """
            import boto3
            s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url="http://127.0.0.1:\(port)",
                              aws_access_key_id="x", aws_secret_access_key="y")
            """
        let made = try await RunningProcess("/usr/bin/env", ["python3", "-c", boto + """

            s3.create_bucket(Bucket="kiln-images", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
            """]).wait(timeout: .seconds(60))
        #expect(made.status == 0, "\(made.combined)")
        for _ in 0..<100 where (try? Data(contentsOf: URL(string: "http://127.0.0.1:\(stubPort)/")!)) == nil {
            try await Task.sleep(for: .milliseconds(100))
        }

        try Data("""
            builds:
              - name: imported
                source: { image: \(dir.path)/disk.qcow2 }
                generalize: false
                outputs: [qcow2]
                publish:
                  ami:
                    region: eu-west-1
                    name: "kiln-import-${build.timestamp}"
                    method: import
                    bucket: kiln-images
                    import_format: vmdk
                    timeout: 2m
            """.utf8).write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))
        var environment = Self.environment(dir, port: port)
        environment["AWS_ENDPOINT_URL"] = nil
        environment["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:\(port)"
        environment["AWS_ENDPOINT_URL_EC2"] = "http://127.0.0.1:\(stubPort)"
        let output = try await runKiln(["build", dir.path + "/t.yaml", "--output-dir", dir.path + "/out"], environment: environment)
        #expect(output.status == 0, "\(output.combined)")
        #expect(!output.combined.contains("kiln-test-secret-value"), "the secret key was printed")
        #expect(output.stdout.contains("import task import-ami-0123: completed"), "\(output.stdout)")

        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.path + "/out/manifest.json"))) as! [String: Any]
        let build = (manifest["builds"] as! [[String: Any]])[0]
        let ami = try #require((build["kiln"] as? [String: Any])?["ami"] as? [String: Any])
        #expect(ami["imageID"] as? String == "ami-0f1a1", "\(ami)")
        #expect((ami["details"] as? [String: String])?["importTaskID"] == "import-ami-0123", "\(ami)")

        let log = (try? String(contentsOfFile: dir.path + "/ec2.log", encoding: .utf8)) ?? ""
        let actions = log.split(separator: "\n").compactMap { $0.split(separator: "&").first?.split(separator: "=").last.map(String.init) }
        #expect(actions == ["ImportImage", "DescribeImportImageTasks", "DescribeImportImageTasks", "RegisterImage",
                            "DescribeImages", "DeregisterImage", "CreateTags"], "\(log)")
        // Nothing left in the bucket: the object deleted, no unfinished upload.
        let left = try await RunningProcess("/usr/bin/env", ["python3", "-c", boto + """

            print(s3.list_objects_v2(Bucket="kiln-images").get("KeyCount"), len(s3.list_multipart_uploads(Bucket="kiln-images").get("Uploads", [])))
            """]).wait(timeout: .seconds(60))
        #expect(left.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0 0", "\(left.combined)")
        #expect(dir.contents("/work").isEmpty)
    }
}
