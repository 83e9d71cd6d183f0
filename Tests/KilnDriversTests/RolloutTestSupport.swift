import Foundation
import KilnCore
import KilnTemplate
import KilnTestSupport
@testable import KilnAWS
@testable import KilnDrivers

/// An AWS account on moto_server (and, for Auto Scaling, optionally a stub in front of it):
/// clients to set the scene, and the publisher's rollout to run against it.
struct RolloutWorld {
    static let region = "eu-west-1"
    static let keys = AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "testsecret", source: "test")
    static let fastRetry = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(10), maxDelay: .milliseconds(50),
                                       requestTimeout: .seconds(20), deadline: .seconds(30))
    static let tags = ["kiln:build": "web", "kiln:template-hash": "0123456789abcdef", "kiln:version": "0.1.0", "Name": "web"]

    var moto: URL
    /// Where Kiln's Auto Scaling calls go: moto, or a stub that forwards to it.
    var autoScalingEndpoint: URL

    init(moto: URL, autoScalingEndpoint: URL? = nil) {
        self.moto = moto
        self.autoScalingEndpoint = autoScalingEndpoint ?? moto
    }

    /// What Kiln uses; the scene is set on moto directly.
    var configuration: AWSConfiguration {
        AWSConfiguration(credentials: Self.keys, region: Self.region,
                         endpointOverrides: ["ec2": moto, "ebs": moto, "autoscaling": autoScalingEndpoint])
    }

    var ec2: EC2Client {
        EC2Client(configuration: AWSConfiguration(credentials: Self.keys, region: Self.region, endpointOverrides: ["ec2": moto]),
                  transport: URLSessionTransport(), retry: Self.fastRetry)
    }

    var autoScaling: AutoScalingClient {
        AutoScalingClient(configuration: AWSConfiguration(credentials: Self.keys, region: Self.region,
                                                          endpointOverrides: ["autoscaling": moto]),
                          transport: URLSessionTransport(), retry: Self.fastRetry)
    }

    var ebs: EBSClient {
        EBSClient(configuration: AWSConfiguration(credentials: Self.keys, region: Self.region, endpointOverrides: ["ebs": moto]),
                  transport: URLSessionTransport(), retry: Self.fastRetry)
    }

    /// An image with one snapshot, as a build would leave it; returns (image id, snapshot id).
    func registerImage(_ name: String) async throws -> (String, String) {
        let snapshot = try await ebs.startSnapshot(volumeSizeGiB: 1, description: nil, tags: [:], clientToken: UUID().uuidString)
        try await ebs.completeSnapshot(snapshotID: snapshot.id, changedBlocksCount: 0)
        let image = try await ec2.registerImage(RegisterImageRequest(name: name, architecture: "x86_64", bootMode: "legacy-bios",
                                                                     snapshotID: snapshot.id, volumeSizeGiB: 1))
        // moto gives the image a snapshot of its own: use the one the image names, as AWS would.
        let registered = try await ec2.describeOwnedImages(ids: [image]).first
        return (image, registered?.snapshotIDs.first ?? snapshot.id)
    }

    func createGroup(_ name: String, template: String, version: String, desired: Int = 0, max: Int = 2) async throws {
        _ = try await autoScaling.call("CreateAutoScalingGroup", [
            ("AutoScalingGroupName", name), ("LaunchTemplate.LaunchTemplateName", template), ("LaunchTemplate.Version", version),
            ("MinSize", "0"), ("MaxSize", String(max)), ("DesiredCapacity", String(desired)),
            ("AvailabilityZones.member.1", "\(Self.region)a"),
        ])
    }

    var environment: AWSEnvironment {
        AWSEnvironment(variables: ["AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "testsecret",
                                   "AWS_ENDPOINT_URL": moto.absoluteString,
                                   "AWS_ENDPOINT_URL_AUTO_SCALING": autoScalingEndpoint.absoluteString],
                       home: "/nonexistent")
    }

    func publisher(_ transport: AMIRecordingTransport) -> AMIPublisher {
        AMIPublisher(environment: environment, transport: transport, retry: Self.fastRetry, pollInterval: .milliseconds(50))
    }

    func request(_ ami: AMISpec, _ transport: AMIRecordingTransport, _ events: any EventSink) -> AMIPublisher.PublishRequest {
        AMIPublisher.PublishRequest(disk: "/nonexistent.qcow2", ami: ami, build: "web", tags: Self.tags, scratch: "/nonexistent",
                                    configuration: configuration, transport: transport, events: events)
    }

    /// Runs only the rollout, after an image registered by `registerImage`.
    func rollOut(_ ami: AMISpec, image: (String, String), transport: AMIRecordingTransport,
                 events: any EventSink = EventRecorder()) async throws -> PublishResult {
        let registered = PublishResult(region: Self.region, imageID: image.0, snapshotID: image.1, details: ["method": "direct"])
        return try await publisher(transport).rollOut(registered, request(ami, transport, events))
    }
}

extension AMIRecordingTransport {
    /// The actions sent, in order.
    var actions: [String] { ec2Calls.map(\.action) }

    /// The fields of the first call of `action`, as "name=value", without Action and Version.
    func fields(of action: String) -> [String]? {
        ec2Calls.first { $0.action == action }.map { call in
            call.fields.filter { !["Action", "Version"].contains($0.0) }.map { "\($0.0)=\($0.1)" }
        }
    }

    static let readOnlyPrefixes = ["Describe"]

    /// Calls that change something.
    var changes: [String] { actions.filter { action in !Self.readOnlyPrefixes.contains { action.hasPrefix($0) } } }
}
