import Foundation
import KilnTestSupport
import Testing
import KilnCore
import KilnTemplate
@testable import KilnAWS
@testable import KilnDrivers

/// `method: import` end to end: S3 on moto_server, EC2 on a Python stub that plays an import
/// task's states (moto has no ImportImage), each on its own 127.0.0.1 port through the
/// per-service endpoint overrides. KILN_INTEGRATION=1.
@Suite(.enabled(if: Moto.enabled), .serialized, .timeLimit(.minutes(3)))
struct AMIPublisherImportTests {
    typealias TestDisk = AMIPublisherIntegrationTests.TestDisk

    /// moto for S3, the stub for EC2, and what a test needs to look at both.
    struct Rig {
        var moto: LocalHTTPServer
        var ec2Stub: LocalHTTPServer
        var directory: String
        var s3: S3Client

        /// The EC2 calls the stub received: action, then its fields.
        var ec2Calls: [(action: String, fields: [String: String])] { EC2ImportStub.calls(in: directory + "/ec2.log") }
        var actions: [String] { ec2Calls.map(\.action) }

        func publisher(_ transport: AMIRecordingTransport) -> AMIPublisher {
            AMIPublisher(environment: AWSEnvironment(variables: [
                "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "testsecret",
                "AWS_ENDPOINT_URL_S3": moto.url.absoluteString, "AWS_ENDPOINT_URL_EC2": ec2Stub.url.absoluteString,
            ], home: "/nonexistent"), transport: transport, retry: AMIPublisherIntegrationTests.fastRetry,
                         pollInterval: .milliseconds(50))
        }

        /// No object and no unfinished upload under kiln-import/ in the bucket.
        func bucketIsEmpty(_ keys: [String]) async throws -> Bool {
            guard try await s3.listMultipartUploads(bucket: "kiln-images").isEmpty else { return false }
            for key in keys {
                do {
                    _ = try await s3.getObject(bucket: "kiln-images", key: key)
                    return false
                } catch let error as AWSError where error.code == "NoSuchKey" {
                    continue
                }
            }
            return true
        }
    }

    func withRig<T>(_ states: [[String]], createBucket: Bool = true, _ body: (Rig) async throws -> T) async throws -> T {
        let directory = NSTemporaryDirectory() + "kiln-import-rig-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stub = try await EC2ImportStub.start(states: states, log: directory + "/ec2.log")
        defer { stub.stop() }
        return try await Moto.with { moto in
            let s3 = S3Client(configuration: AWSConfiguration(credentials: AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "x"),
                                                              region: "eu-west-1", endpointOverrides: ["s3": moto.url]),
                              transport: URLSessionTransport(), retry: AMIPublisherIntegrationTests.fastRetry)
            if createBucket { try await s3.createBucket("kiln-images") }
            return try await body(Rig(moto: moto, ec2Stub: stub, directory: directory, s3: s3))
        }
    }

    static let spec = AMISpec(region: "eu-west-1", name: "kiln-import-1", method: .import, bucket: "kiln-images",
                              tags: ["team": "web"], concurrency: 4)

    /// The object keys the transport sent parts of.
    func uploadedKeys(_ transport: AMIRecordingTransport) -> [String] {
        Array(Set(transport.requests.filter { $0.url.path.hasPrefix("/kiln-images/") }
            .map { String($0.url.path.dropFirst("/kiln-images/".count)) }))
    }

    @Test func importsRegistersUnderTheTemplatesNameAndCleansUp() async throws {
        let disk = try await TestDisk.make()
        defer { disk.remove() }
        try await withRig([["active", "pending"], ["active", "converting"], ["completed", ""]]) { rig in
            let transport = AMIRecordingTransport()
            let events = AMIEventLog()
            let result = try await rig.publisher(transport).publish(
                disk: disk.qcow2, ami: Self.spec, build: "web", tags: ["kiln:build": "web"], scratch: disk.scratch, events: events)
            #expect(result == PublishResult(region: "eu-west-1", imageID: "ami-0f1a1", snapshotID: "snap-0888", details: [
                "method": "import", "importTaskID": "import-ami-0123", "importFormat": "vmdk", "bootMode": "legacy-bios",
                "volumeSizeGiB": "1", "uploadedBytes": result.details["uploadedBytes"] ?? "?", "uploadParts": "1",
            ]))
            #expect(disk.scratchIsEmpty)

            // What went to S3 is the disk, as a streamOptimized VMDK.
            let puts = transport.requests.filter { $0.method == "PUT" }
            #expect(puts.count == 1)
            let uploaded = disk.directory + "/uploaded.vmdk"
            try puts[0].body.write(to: URL(fileURLWithPath: uploaded))
            #expect(String(puts[0].body.count) == result.details["uploadedBytes"])
            let info = try await QemuImg.info(uploaded)
            #expect(info.format == "vmdk")
            let same = try await Subprocess.run("qemu-img", ["compare", "-f", "vmdk", "-F", "qcow2", uploaded, disk.qcow2], check: false)
            #expect(same.status == 0, "\(same.stdoutText) \(same.stderrText)")
            #expect(events.progress.last == UInt64(puts[0].body.count))

            #expect(rig.actions == ["ImportImage", "DescribeImportImageTasks", "DescribeImportImageTasks",
                                    "DescribeImportImageTasks", "RegisterImage", "DescribeImages", "DeregisterImage", "CreateTags"])
            let calls = rig.ec2Calls
            let key = try #require(uploadedKeys(transport).first)
            #expect(key.hasPrefix("kiln-import/web-") && key.hasSuffix(".vmdk"))
            let importCall = calls[0].fields
            #expect(importCall["DiskContainer.1.Format"] == "vmdk")
            #expect(importCall["DiskContainer.1.UserBucket.S3Bucket"] == "kiln-images")
            #expect(importCall["DiskContainer.1.UserBucket.S3Key"] == key)
            #expect(importCall["BootMode"] == "legacy-bios")
            #expect(importCall["Architecture"] == "x86_64")
            let register = calls[4].fields
            #expect(register["Name"] == "kiln-import-1")
            #expect(register["BlockDeviceMapping.1.Ebs.SnapshotId"] == "snap-0888")
            #expect(register["BlockDeviceMapping.1.Ebs.VolumeSize"] == "1")
            #expect(register["EnaSupport"] == "true")
            #expect(calls[6].fields["ImageId"] == "ami-0777")
            let tags = calls[7].fields
            #expect(tags["ResourceId.1"] == "ami-0f1a1" && tags["ResourceId.2"] == "snap-0888")
            #expect(Set([tags["Tag.1.Key"], tags["Tag.2.Key"], tags["Tag.3.Key"]]) == Set(["Name", "kiln:build", "team"]))

            let bucketIsEmpty = try await rig.bucketIsEmpty([key])
            #expect(bucketIsEmpty)
            #expect(transport.requests.allSatisfy { $0.url.host == "127.0.0.1" })
        }
    }

    @Test func aFailedImportFailsAtOnceWithAWSsMessage() async throws {
        let disk = try await TestDisk.make()
        defer { disk.remove() }
        let message = "ClientError: Unknown OS / Missing OS files."
        try await withRig([["active", "pending"], ["deleting", message]]) { rig in
            let transport = AMIRecordingTransport()
            var spec = Self.spec
            spec.timeout = .seconds(3600)
            let error = await #expect(throws: KilnError.self) {
                _ = try await rig.publisher(transport).publish(disk: disk.qcow2, ami: spec, build: "web", tags: [:],
                                                               scratch: disk.scratch, events: AMIEventLog())
            }
            let text = try #require(error?.message)
            #expect(error?.code == .publish)
            #expect(text.contains("import-ami-0123 deleting: \(message)"), "\(text)")
            #expect(text.contains("deleted s3://kiln-images/kiln-import/web-"), "\(text)")
            // The second poll showed the failure: no more polls, nothing to cancel, nothing registered.
            #expect(rig.actions == ["ImportImage", "DescribeImportImageTasks", "DescribeImportImageTasks"])
            let bucketIsEmpty = try await rig.bucketIsEmpty(uploadedKeys(transport))
            #expect(bucketIsEmpty)
            #expect(disk.scratchIsEmpty)
        }
    }

    @Test func cancellingDuringTheImportCancelsTheTask() async throws {
        let disk = try await TestDisk.make()
        defer { disk.remove() }
        try await withRig([["active", "converting"]]) { rig in
            let transport = AMIRecordingTransport()
            let publisher = rig.publisher(transport)
            let task = Task {
                try await publisher.publish(disk: disk.qcow2, ami: Self.spec, build: "web", tags: [:], scratch: disk.scratch,
                                            events: AMIEventLog())
            }
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(60)
            while !rig.actions.contains("DescribeImportImageTasks") && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            task.cancel()
            let error = await #expect(throws: KilnError.self) { try await task.value }
            #expect(error?.code == .cancelled)
            #expect(error?.message.contains("cancelled import task import-ami-0123") == true, "\(error?.message ?? "")")
            let actions = rig.actions
            #expect(actions.contains("CancelImportTask"))
            #expect(!actions.contains("RegisterImage"))
            #expect(rig.ec2Calls.first { $0.action == "CancelImportTask" }?.fields["ImportTaskId"] == "import-ami-0123")
            let bucketIsEmpty = try await rig.bucketIsEmpty(uploadedKeys(transport))
            #expect(bucketIsEmpty)
            #expect(disk.scratchIsEmpty)
        }
    }

    @Test func aTimeoutCancelsTheTask() async throws {
        let disk = try await TestDisk.make()
        defer { disk.remove() }
        try await withRig([["active", "converting"]]) { rig in
            let transport = AMIRecordingTransport()
            var spec = Self.spec
            spec.timeout = .milliseconds(300)
            let error = await #expect(throws: KilnError.self) {
                _ = try await rig.publisher(transport).publish(disk: disk.qcow2, ami: spec, build: "web", tags: [:],
                                                               scratch: disk.scratch, events: AMIEventLog())
            }
            #expect(error?.message.contains("timed out") == true, "\(error?.message ?? "")")
            #expect(error?.hint?.contains("publish.ami.timeout") == true)
            #expect(rig.actions.last == "CancelImportTask")
            let bucketIsEmpty = try await rig.bucketIsEmpty(uploadedKeys(transport))
            #expect(bucketIsEmpty)
        }
    }

    @Test func aMissingBucketFailsBeforeAnythingIsMade() async throws {
        let disk = try await TestDisk.make()
        defer { disk.remove() }
        try await withRig([["completed", ""]], createBucket: false) { rig in
            let transport = AMIRecordingTransport()
            let events = AMIEventLog()
            let error = await #expect(throws: KilnError.self) {
                _ = try await rig.publisher(transport).publish(disk: disk.qcow2, ami: Self.spec, build: "web", tags: [:],
                                                               scratch: disk.scratch, events: events)
            }
            #expect(error?.code == .publish)
            #expect(error?.message == "S3 bucket 'kiln-images' does not exist in eu-west-1; nothing was uploaded")
            #expect(error?.hint?.contains("aws s3 mb s3://kiln-images --region eu-west-1") == true)
            #expect(transport.requests.map { "\($0.method) \($0.url.path)" } == ["HEAD /kiln-images"])
            #expect(rig.actions.isEmpty)
            #expect(events.progress.isEmpty)
            let status = try await rig.s3.bucketStatus("kiln-images")
            #expect(status == .missing)
            #expect(disk.scratchIsEmpty)
        }
    }

    @Test func cancellingMidUploadAbortsIt() async throws {
        let disk = try await TestDisk.make(randomBlocks: 40)
        defer { disk.remove() }
        try await withRig([["completed", ""]]) { rig in
            let firstPart = AMIFlag()
            let transport = AMIRecordingTransport { request in
                if request.method == "PUT" {
                    firstPart.set()
                    try await Task.sleep(for: .milliseconds(200))
                }
                return nil
            }
            var spec = Self.spec
            spec.importFormat = .raw           // 64 MiB: 8 parts
            spec.concurrency = 2
            let publisher = rig.publisher(transport)
            let task = Task {
                try await publisher.publish(disk: disk.qcow2, ami: spec, build: "web", tags: [:], scratch: disk.scratch,
                                            events: AMIEventLog())
            }
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(60)
            while !firstPart.isSet && clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .milliseconds(300))
            task.cancel()
            let error = await #expect(throws: KilnError.self) { try await task.value }
            #expect(error?.code == .cancelled)
            #expect(error?.message.contains("aborted the multipart upload to s3://kiln-images/kiln-import/web-") == true,
                    "\(error?.message ?? "")")
            #expect(transport.requests.filter { $0.method == "PUT" }.count < 8)
            #expect(!transport.requests.contains { $0.url.query?.hasPrefix("uploadId=") == true && $0.method == "POST" },
                    "the upload was completed")
            #expect(rig.actions.isEmpty)
            let bucketIsEmpty = try await rig.bucketIsEmpty(uploadedKeys(transport))
            #expect(bucketIsEmpty)
            #expect(disk.scratchIsEmpty)
        }
    }

    /// The task completes between the last poll and the cancellation: CancelImportTask is refused,
    /// so the undo takes the image and snapshot the task made and removes them.
    @Test func aTaskThatCompletedDuringCancellationIsUndone() async throws {
        let disk = try await TestDisk.make()
        defer { disk.remove() }
        try await withRig([["active", "converting"]]) { rig in
            let refused = AMIFlag()
            let transport = AMIRecordingTransport { request in
                if AMIRecordingTransport.isAction(request, "CancelImportTask") {
                    refused.set()
                    return HTTPResponse(status: 400, body: Data(("<Response><Errors><Error><Code>IncorrectState</Code>"
                        + "<Message>The import task is already completed.</Message></Error></Errors></Response>").utf8))
                }
                if refused.isSet, AMIRecordingTransport.isAction(request, "DescribeImportImageTasks") {
                    return HTTPResponse(status: 200, body: Data(("<DescribeImportImageTasksResponse><importImageTaskSet><item>"
                        + "<importTaskId>import-ami-0123</importTaskId><status>completed</status><imageId>ami-0777</imageId>"
                        + "<snapshotDetailSet><item><snapshotId>snap-0888</snapshotId></item></snapshotDetailSet>"
                        + "</item></importImageTaskSet></DescribeImportImageTasksResponse>").utf8))
                }
                return nil
            }
            let publisher = rig.publisher(transport)
            let task = Task {
                try await publisher.publish(disk: disk.qcow2, ami: Self.spec, build: "web", tags: [:], scratch: disk.scratch,
                                            events: AMIEventLog())
            }
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(60)
            while !rig.actions.contains("DescribeImportImageTasks") && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            task.cancel()
            let error = await #expect(throws: KilnError.self) { try await task.value }
            let message = error?.message ?? ""
            #expect(error?.code == .cancelled)
            #expect(message.contains("import task import-ami-0123 had completed"), "\(message)")
            #expect(message.contains("deregistered image ami-0777"), "\(message)")
            #expect(message.contains("deleted snapshot snap-0888"), "\(message)")
            let calls = rig.ec2Calls
            #expect(calls.first { $0.action == "DeregisterImage" }?.fields["ImageId"] == "ami-0777")
            #expect(calls.first { $0.action == "DeleteSnapshot" }?.fields["SnapshotId"] == "snap-0888")
            #expect(!calls.contains { $0.action == "RegisterImage" })
            let bucketIsEmpty = try await rig.bucketIsEmpty(uploadedKeys(transport))
            #expect(bucketIsEmpty)
        }
    }

    @Test func anUnbootableDiskIsRefusedBeforeTheUpload() async throws {
        let disk = try await TestDisk.make(partitioned: false)
        defer { disk.remove() }
        try await withRig([["completed", ""]]) { rig in
            let transport = AMIRecordingTransport()
            let error = await #expect(throws: KilnError.self) {
                _ = try await rig.publisher(transport).publish(disk: disk.qcow2, ami: Self.spec, build: "web", tags: [:],
                                                               scratch: disk.scratch, events: AMIEventLog())
            }
            #expect(error?.message.contains("no partition table") == true, "\(error?.message ?? "")")
            #expect(transport.requests.map(\.method) == ["HEAD"])
            #expect(rig.actions.isEmpty)
            #expect(disk.scratchIsEmpty)
        }
    }
}
