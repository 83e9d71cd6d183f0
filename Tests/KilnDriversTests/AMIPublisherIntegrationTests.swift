import Foundation
import KilnTestSupport
import Testing
import KilnCore
import KilnTemplate
@testable import KilnAWS
@testable import KilnDrivers

/// The publisher end to end against moto_server on 127.0.0.1 (KILN_INTEGRATION=1, `moto[server]`).
/// moto checks little, so these tests read the snapshot back and inspect what Kiln sent.
@Suite(.enabled(if: Moto.enabled), .timeLimit(.minutes(3)))
struct AMIPublisherIntegrationTests {
    static let block = EBSClient.blockSize

    /// A 64 MiB raw disk: an MBR with boot code, data in a few places (one region straddling two
    /// blocks, a short run in the last block), holes elsewhere; and its qcow2 conversion.
    struct TestDisk {
        var directory: String
        var raw: String { directory + "/disk.raw" }
        var qcow2: String { directory + "/disk.qcow2" }
        var scratch: String { directory + "/scratch" }
        var content: Data

        static func make(randomBlocks: Int = 0, partitioned: Bool = true) async throws -> TestDisk {
            let directory = NSTemporaryDirectory() + "kiln-ami-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory + "/scratch", withIntermediateDirectories: true)
            var content = Data(count: 64 << 20)
            if partitioned { content.replaceSubrange(0..<512, with: AMITestDisks.mbrHeader()) }
            content.replaceSubrange(3 * block + 1000..<3 * block + 101_000, with: Data(repeating: 0xC3, count: 100_000))
            content.replaceSubrange(20 * block - 4096..<20 * block + 4096,
                                    with: Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }))
            content.replaceSubrange(content.count - 10..<content.count, with: Data(repeating: 0xEE, count: 10))
            for index in 0..<randomBlocks {
                let start = (40 + index) * block
                var generator = SystemRandomNumberGenerator()
                content.replaceSubrange(start..<start + block, with: Data((0..<block).map { _ in UInt8.random(in: 1...255, using: &generator) }))
            }
            let disk = TestDisk(directory: directory, content: content)
            try content.write(to: URL(fileURLWithPath: disk.raw))
            try await Subprocess.run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", disk.raw, disk.qcow2])
            return disk
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }

        func expectedBlock(_ index: Int) -> Data { content.subdata(in: index * block..<(index + 1) * block) }

        var nonZeroBlocks: [Int] {
            (0..<content.count / block).filter { !SparseBlocks.isAllZero(expectedBlock($0)) }
        }

        /// Leaves nothing in scratch (the raw copy is removed).
        var scratchIsEmpty: Bool { ((try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? ["?"]).isEmpty }
    }

    func environment(_ server: LocalHTTPServer) -> AWSEnvironment {
        AWSEnvironment(variables: ["AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "testsecret",
                                   "AWS_ENDPOINT_URL": server.url.absoluteString], home: "/nonexistent")
    }

    func clients(_ server: LocalHTTPServer) -> (EBSClient, EC2Client) {
        let config = AWSConfiguration(credentials: AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "testsecret"),
                                      region: "eu-west-1", endpointOverrides: ["ebs": server.url, "ec2": server.url])
        return (EBSClient(configuration: config, transport: URLSessionTransport()),
                EC2Client(configuration: config, transport: URLSessionTransport()))
    }

    static let fastRetry = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(10), maxDelay: .milliseconds(50),
                                       requestTimeout: .seconds(20), deadline: .seconds(30))

    func publisher(_ server: LocalHTTPServer, _ transport: AMIRecordingTransport) -> AMIPublisher {
        AMIPublisher(environment: environment(server), transport: transport, retry: Self.fastRetry,
                     pollInterval: .milliseconds(100))
    }

    static let spec = AMISpec(region: "eu-west-1", name: "kiln-web-1", tags: ["team": "web"], concurrency: 4)

    @Test func publishesEveryNonZeroBlockAndRegistersTheImage() async throws {
        let disk = try await TestDisk.make()
        defer { disk.remove() }
        try await Moto.with { server in
            let transport = AMIRecordingTransport()
            let events = AMIEventLog()
            let result = try await publisher(server, transport).publish(
                disk: disk.qcow2, ami: Self.spec, build: "web", tags: ["kiln:build": "web"], scratch: disk.scratch, events: events)
            #expect(result.region == "eu-west-1")
            #expect(result.imageID.hasPrefix("ami-"))
            #expect(result.snapshotID.hasPrefix("snap-"))
            #expect(disk.scratchIsEmpty)

            // Exactly the non-zero blocks were sent, each once, and read back equal to the disk.
            let expected = disk.nonZeroBlocks
            #expect(expected == [0, 3, 19, 20, 127])
            #expect(transport.blockPuts.map { Int($0.url.lastPathComponent)! }.sorted() == expected)
            let (ebs, ec2) = clients(server)
            let listed = try await ebs.listSnapshotBlocks(snapshotID: result.snapshotID)
            #expect(listed.map(\.index) == expected)
            for block in listed {
                let read = try await ebs.getSnapshotBlock(snapshotID: result.snapshotID, block: block)
                #expect(read.data == disk.expectedBlock(block.index), "block \(block.index)")
                #expect(read.checksum == EBSClient.checksum(of: disk.expectedBlock(block.index)).base64)
            }
            let complete = try #require(transport.requests.first { $0.url.path.hasPrefix("/snapshots/completion/") })
            #expect(complete.headers["x-amz-ChangedBlocksCount"] == String(expected.count))

            // The RegisterImage request, field by field.
            let register = try #require(transport.ec2Calls.first { $0.action == "RegisterImage" })
            #expect(register.fields.map { "\($0.0)=\($0.1)" } == [
                "Action=RegisterImage", "Version=2016-11-15", "Name=kiln-web-1", "Architecture=x86_64",
                "VirtualizationType=hvm", "RootDeviceName=/dev/xvda", "BootMode=legacy-bios", "EnaSupport=true",
                "BlockDeviceMapping.1.DeviceName=/dev/xvda", "BlockDeviceMapping.1.Ebs.SnapshotId=\(result.snapshotID)",
                "BlockDeviceMapping.1.Ebs.VolumeType=gp3", "BlockDeviceMapping.1.Ebs.VolumeSize=1",
                "BlockDeviceMapping.1.Ebs.DeleteOnTermination=true",
            ])
            let tags = try #require(transport.ec2Calls.first { $0.action == "CreateTags" })
            #expect(tags.fields.map { "\($0.0)=\($0.1)" }.sorted() == [
                "Action=CreateTags", "ResourceId.1=\(result.imageID)", "ResourceId.2=\(result.snapshotID)",
                "Tag.1.Key=Name", "Tag.1.Value=kiln-web-1", "Tag.2.Key=kiln:build", "Tag.2.Value=web",
                "Tag.3.Key=team", "Tag.3.Value=web", "Version=2016-11-15",
            ])
            #expect(try await ec2.describeImages(ids: [result.imageID]).map(\.state) == ["available"])
            #expect(events.progress.last == 64 << 20)
            #expect(transport.requests.allSatisfy { $0.url.host == "127.0.0.1" })
        }
    }

    @Test func unbootableDiskIsRefusedBeforeAnyRequest() async throws {
        let disk = try await TestDisk.make(partitioned: false)
        defer { disk.remove() }
        try await Moto.with { server in
            let transport = AMIRecordingTransport()
            let error = await #expect(throws: KilnError.self) {
                _ = try await publisher(server, transport).publish(disk: disk.qcow2, ami: Self.spec, build: "web", tags: [:],
                                                                   scratch: disk.scratch, events: AMIEventLog())
            }
            #expect(error?.message.contains("no partition table") == true)
            #expect(transport.requests.isEmpty)
            #expect(disk.scratchIsEmpty)
        }
    }

    @Test func failureAfterRegistrationUndoesImageAndSnapshot() async throws {
        let disk = try await TestDisk.make()
        defer { disk.remove() }
        try await Moto.with { server in
            let transport = AMIRecordingTransport { request in
                guard AMIRecordingTransport.isAction(request, "CreateTags") else { return nil }
                return HTTPResponse(status: 403, body: Data("<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r-1</RequestID></Response>".utf8))
            }
            let error = await #expect(throws: KilnError.self) {
                _ = try await publisher(server, transport).publish(disk: disk.qcow2, ami: Self.spec, build: "web", tags: [:],
                                                                   scratch: disk.scratch, events: AMIEventLog())
            }
            let message = try #require(error?.message)
            #expect(error?.code == .publish)
            #expect(message.contains("UnauthorizedOperation"))
            #expect(message.contains("deregistered image ami-"))
            #expect(message.contains("deleted snapshot snap-"))
            #expect(error?.hint?.contains("ec2:CreateTags") == true)
            #expect(!message.contains("testsecret"))

            let actions = transport.ec2Calls.map(\.action)
            #expect(Array(actions.suffix(2)) == ["DeregisterImage", "DeleteSnapshot"])
            let (_, ec2) = clients(server)
            let snapshotID = try #require(transport.ec2Calls.last?.fields.first { $0.0 == "SnapshotId" }?.1)
            let gone = await #expect(throws: AWSError.self) { try await ec2.describeSnapshots(ids: [snapshotID]) }
            #expect(gone?.code == "InvalidSnapshot.NotFound")
        }
    }

    @Test func cancellingMidUploadLeavesNoSnapshot() async throws {
        let disk = try await TestDisk.make(randomBlocks: 60)
        defer { disk.remove() }
        try await Moto.with { server in
            let firstPut = AMIFlag()
            let transport = AMIRecordingTransport { request in
                if request.method == "PUT" {
                    firstPut.set()
                    try await Task.sleep(for: .milliseconds(150))
                }
                return nil
            }
            let spec = AMISpec(region: "eu-west-1", name: "kiln-cancel", concurrency: 2)
            let publisher = publisher(server, transport)
            let task = Task {
                try await publisher.publish(disk: disk.qcow2, ami: spec, build: "web", tags: [:], scratch: disk.scratch,
                                            events: AMIEventLog())
            }
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(60)
            while !firstPut.isSet && clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .milliseconds(300))
            task.cancel()
            let error = await #expect(throws: KilnError.self) { try await task.value }
            #expect(error?.code == .cancelled)
            #expect(error?.message.contains("deleted snapshot snap-") == true)
            #expect(transport.blockPuts.count < disk.nonZeroBlocks.count)
            #expect(!transport.ec2Calls.contains { $0.action == "RegisterImage" })
            #expect(disk.scratchIsEmpty)

            let snapshotID = try #require(transport.blockPuts.first?.url.pathComponents.dropFirst(2).first)
            let (_, ec2) = clients(server)
            let gone = await #expect(throws: AWSError.self) { try await ec2.describeSnapshots(ids: [String(snapshotID)]) }
            #expect(gone?.code == "InvalidSnapshot.NotFound")
        }
    }
}

final class AMIEventLog: EventSink, @unchecked Sendable {
    private let lock = NSLock()
    private var events: [BuildEvent] = []
    func emit(_ event: BuildEvent) { lock.withLock { events.append(event) } }
    var progress: [UInt64] {
        lock.withLock { events.compactMap { if case let .progress(_, _, done, _) = $0 { return done } else { return nil } } }
    }
}

final class AMIFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
