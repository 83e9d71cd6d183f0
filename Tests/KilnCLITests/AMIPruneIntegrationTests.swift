import Foundation
import Testing

/// `kiln ami prune` against moto_server on 127.0.0.1: four images, one running an instance.
@Suite(.serialized, .enabled(if: Repo.integration, "set KILN_INTEGRATION=1 (scripts/test does)"))
struct AMIPruneIntegrationTests {
    static func python(_ port: Int, _ body: String) async throws -> ProcessOutput {
        try await RunningProcess("/usr/bin/env", ["python3", "-c", """
            import boto3, json
            ec2 = boto3.client("ec2", region_name="eu-west-1", endpoint_url="http://127.0.0.1:\(port)",
                               aws_access_key_id="x", aws_secret_access_key="y")
            \(body)
            """]).wait(timeout: .seconds(60))
    }

    struct SeedFailed: Error, CustomStringConvertible {
        var output: String
        var description: String { "seeding moto failed: \(output)" }
    }

    struct Scene {
        var images: [String]
        var snapshots: [String]
        var instance: String
    }

    /// web-1 .. web-4, registered in that order; an instance runs web-1.
    static func seed(_ port: Int) async throws -> Scene {
        let output = try await python(port, """
            volume = ec2.create_volume(Size=1, AvailabilityZone="eu-west-1a")["VolumeId"]
            images = []
            for number in range(1, 5):
                snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
                images.append(ec2.register_image(Name="web-%d" % number, RootDeviceName="/dev/xvda", VirtualizationType="hvm",
                    BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot}}])["ImageId"])
            described = {i["ImageId"]: i for i in ec2.describe_images(ImageIds=images)["Images"]}
            snapshots = [described[i]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] for i in images]
            instance = ec2.run_instances(ImageId=images[0], MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
            print(json.dumps({"images": images, "snapshots": snapshots, "instance": instance}))
            """)
        let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        guard let images = object?["images"] as? [String], let snapshots = object?["snapshots"] as? [String],
              let instance = object?["instance"] as? String else {
            throw SeedFailed(output: output.combined)
        }
        return Scene(images: images, snapshots: snapshots, instance: instance)
    }

    static func imageNames(_ port: Int) async throws -> [String] {
        let output = try await python(port, """
            print(" ".join(sorted(i["Name"] for i in ec2.describe_images(Owners=["self"])["Images"])))
            """)
        return output.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    static func environment(_ port: Int) -> [String: String] {
        ["AWS_ENDPOINT_URL": "http://127.0.0.1:\(port)", "AWS_ACCESS_KEY_ID": "AKIAKILNTEST",
         "AWS_SECRET_ACCESS_KEY": "kiln-test-secret-value", "AWS_REGION": "eu-west-1"]
    }

    @Test func dryRunShowsWhatWouldGoAndWhyTheRestStays() async throws {
        let (moto, port) = try await PublishIntegrationTests.startMoto()
        // SIGKILL: a child started through Foundation.Process inherits the runner's blocked signal mask.
        defer { moto.signal(SIGKILL) }
        let scene = try await Self.seed(port)
        let output = try await runKiln(["ami", "prune", "--name-pattern", "web-*", "--keep", "2", "--dry-run"],
                                       environment: Self.environment(port))
        #expect(output.status == 0, "\(output.combined)")
        #expect(output.stdout.split(separator: "\n").map(String.init) == [
            "eu-west-1: 4 images named 'web-*'; keeping the newest 2 and those in use",
            "  keep   \(scene.images[3]) web-4: newest 1 of 2 kept",
            "  keep   \(scene.images[2]) web-3: newest 2 of 2 kept",
            "  keep   \(scene.images[0]) web-1: in use by instance \(scene.instance) (running)",
            "  remove \(scene.images[1]) web-2 and snapshot \(scene.snapshots[1])",
            "dry run: would deregister 1 image and delete 1 snapshot; nothing was changed",
        ])
        #expect(try await Self.imageNames(port) == ["web-1", "web-2", "web-3", "web-4"])
        #expect(!output.combined.contains("kiln-test-secret-value"))
    }

    @Test func theTemplatesRetentionRunsAndAnImageInUseIsRefused() async throws {
        let (moto, port) = try await PublishIntegrationTests.startMoto()
        defer { moto.signal(SIGKILL) }
        let scene = try await Self.seed(port)
        let dir = try TempDirectory()
        defer { dir.remove() }
        try Data("""
            builds:
              - name: web
                publish:
                  ami:
                    region: eu-west-1
                    name: "web-${build.timestamp}"
                    retention: { keep: 2 }
            """.utf8).write(to: URL(fileURLWithPath: dir.path + "/t.yaml"))

        let output = try await runKiln(["ami", "prune", dir.path + "/t.yaml"], environment: Self.environment(port))
        #expect(output.status == 0, "\(output.combined)")
        #expect(output.stdout.contains("eu-west-1: 4 images named 'web-*' (build web); keeping the newest 2 and those in use"))
        #expect(output.stdout.contains("  deregistered image \(scene.images[1]) web-2"))
        #expect(output.stdout.contains("  deleted snapshot \(scene.snapshots[1]) (of \(scene.images[1]))"))
        #expect(output.stdout.contains("removed 1 of 1 image and 1 of 1 snapshot"))
        #expect(try await Self.imageNames(port) == ["web-1", "web-3", "web-4"])

        let refused = try await runKiln(["ami", "prune", "--image", scene.images[0], "--image", scene.images[2]],
                                        environment: Self.environment(port))
        #expect(refused.status == 1, "\(refused.combined)")
        #expect(refused.stderr.contains("cannot prune an image still in use; nothing was changed"), "\(refused.stderr)")
        #expect(refused.stderr.contains("\(scene.images[0]) web-1: in use by instance \(scene.instance) (running)"))
        #expect(try await Self.imageNames(port) == ["web-1", "web-3", "web-4"])

        let unusable = try await runKiln(["ami", "prune", dir.path + "/t.yaml", "--build", "db"], environment: Self.environment(port))
        #expect(unusable.status == 2, "\(unusable.combined)")
        let bare = try await runKiln(["ami", "prune", "--keep", "2"], environment: Self.environment(port))
        #expect(bare.status == 64 || bare.status == 2, "\(bare.combined)")
        #expect(bare.stderr.contains("give a TEMPLATE, or --name-pattern and --keep"))
    }
}
