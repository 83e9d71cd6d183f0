import Foundation
import KilnCore
import KilnTemplate
import KilnTestSupport
import Testing

/// What a publisher reports of a rollout reaches manifest.json under `kiln.ami.details`.
@Suite struct ManifestRolloutTests {
    struct RolledOutPublisher: ImagePublisher {
        func publish(disk: String, ami: AMISpec, build: String, tags: [String: String], scratch: String,
                     events: any EventSink) async throws -> PublishResult {
            PublishResult(region: "eu-west-1", imageID: "ami-0123", snapshotID: "snap-0456", details: [
                "launchTemplateID": "lt-0789", "launchTemplateVersion": "7", "instanceRefreshID": "08b91cf7",
                "instanceRefreshStatus": "Successful",
            ])
        }
    }

    @Test func theTemplateVersionAndRefreshIDAreRecorded() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let template = try sandbox.template(extra: """
                publish:
                  ami: { name: "web-1", launch_template: { name: web }, auto_scaling_group: { name: web-asg, refresh: {} } }
            """)
        let world = FakeWorld()
        var drivers = world.drivers()
        drivers.publisher = RolledOutPublisher()
        let runner = BuildRunner(drivers: drivers, options: BuildOptions(workRoot: sandbox.workRoot, pollInterval: .milliseconds(1)),
                                 events: EventRecorder(), template: template)
        _ = try await runner.run(BuildPlan(template.builds[0]))
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sandbox.output + "/manifest.json")))
        let build = try #require(((manifest as? [String: Any])?["builds"] as? [[String: Any]])?.first)
        let ami = try #require((build["kiln"] as? [String: Any])?["ami"] as? [String: Any])
        let details = try #require(ami["details"] as? [String: String])
        #expect(details["launchTemplateVersion"] == "7")
        #expect(details["instanceRefreshID"] == "08b91cf7")
        #expect(build["artifact_id"] as? String == "eu-west-1:ami-0123")
    }
}
