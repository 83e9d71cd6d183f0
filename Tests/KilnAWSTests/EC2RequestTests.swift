import Foundation
import Testing
@testable import KilnAWS

@Suite struct EC2RequestTests {
    @Test func registerImageFormIsExact() {
        let request = RegisterImageRequest(name: "web 2026", description: "built by kiln", architecture: "x86_64",
                                           bootMode: "legacy-bios", snapshotID: "snap-0abc", volumeSizeGiB: 8)
        #expect(EC2Client.formBody(action: "RegisterImage", request.parameters) ==
            "Action=RegisterImage&Version=2016-11-15&Name=web%202026&Description=built%20by%20kiln&Architecture=x86_64"
            + "&VirtualizationType=hvm&RootDeviceName=%2Fdev%2Fxvda&BootMode=legacy-bios&EnaSupport=true"
            + "&BlockDeviceMapping.1.DeviceName=%2Fdev%2Fxvda&BlockDeviceMapping.1.Ebs.SnapshotId=snap-0abc"
            + "&BlockDeviceMapping.1.Ebs.VolumeType=gp3&BlockDeviceMapping.1.Ebs.VolumeSize=8"
            + "&BlockDeviceMapping.1.Ebs.DeleteOnTermination=true")
    }

    @Test func describeSnapshotsParsesTheSet() async throws {
        let xml = """
            <DescribeSnapshotsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>
            <snapshotSet><item><snapshotId>snap-1</snapshotId><status>pending</status><progress>40%</progress></item>
            <item><snapshotId>snap-2</snapshotId><status>error</status><statusMessage>bad block</statusMessage></item></snapshotSet>
            </DescribeSnapshotsResponse>
            """
        let transport = FakeTransport([.success(HTTPResponse(status: 200, body: Data(xml.utf8)))])
        let ec2 = EC2Client(configuration: TestConfig.configuration(), transport: transport, retry: TestConfig.fastRetry)
        let snapshots = try await ec2.describeSnapshots(ids: ["snap-1", "snap-2"])
        #expect(snapshots == [EC2Client.Snapshot(id: "snap-1", state: "pending", progress: "40%", stateMessage: nil),
                              EC2Client.Snapshot(id: "snap-2", state: "error", progress: nil, stateMessage: "bad block")])
        let request = try #require(transport.requests.first)
        #expect(request.method == "POST")
        #expect(String(decoding: request.body, as: UTF8.self)
            == "Action=DescribeSnapshots&Version=2016-11-15&SnapshotId.1=snap-1&SnapshotId.2=snap-2")
        #expect(request.headers["Authorization"]?.contains("/us-east-1/ec2/aws4_request") == true)
    }

    @Test func describeImagesReadsStateReason() async throws {
        let xml = """
            <DescribeImagesResponse><imagesSet><item><imageId>ami-1</imageId><imageState>failed</imageState>
            <stateReason><code>Client.InvalidSnapshot</code><message>snapshot is not bootable</message></stateReason></item></imagesSet></DescribeImagesResponse>
            """
        let transport = FakeTransport([.success(HTTPResponse(status: 200, body: Data(xml.utf8)))])
        let ec2 = EC2Client(configuration: TestConfig.configuration(), transport: transport, retry: TestConfig.fastRetry)
        #expect(try await ec2.describeImages(ids: ["ami-1"])
            == [EC2Client.Image(id: "ami-1", state: "failed", stateReason: "snapshot is not bootable")])
    }

    @Test func putSnapshotBlockHeaders() async throws {
        let transport = FakeTransport([.success(HTTPResponse(status: 201))])
        let ebs = EBSClient(configuration: TestConfig.configuration(), transport: transport, retry: TestConfig.fastRetry)
        let block = Data(repeating: 7, count: EBSClient.blockSize)
        try await ebs.putSnapshotBlock(snapshotID: "snap-9", blockIndex: 12, data: block)
        let request = try #require(transport.requests.first)
        #expect(request.method == "PUT")
        #expect(request.url.path == "/snapshots/snap-9/blocks/12")
        #expect(request.headers["x-amz-Checksum"] == EBSClient.checksum(of: block).base64)
        #expect(request.headers["x-amz-Checksum-Algorithm"] == "SHA256")
        #expect(request.headers["x-amz-Data-Length"] == "524288")
        #expect(request.body == block)
    }
}
