import Foundation
import KilnTestSupport
import Testing
@testable import KilnAWS

/// The clients against moto_server on 127.0.0.1 (needs `moto[server]`; KILN_INTEGRATION=1).
@Suite(.enabled(if: Moto.enabled), .timeLimit(.minutes(2)))
struct MotoIntegrationTests {
    func clients(_ server: LocalHTTPServer) -> (EBSClient, EC2Client) {
        let config = TestConfig.configuration(endpoint: server.url)
        return (EBSClient(configuration: config, transport: URLSessionTransport(), retry: TestConfig.fastRetry),
                EC2Client(configuration: config, transport: URLSessionTransport(), retry: TestConfig.fastRetry))
    }

    @Test func snapshotBlocksRoundTrip() async throws {
        try await Moto.with { server in
            let (ebs, ec2) = clients(server)
            let snapshot = try await ebs.startSnapshot(volumeSizeGiB: 1, description: "kiln test", tags: ["team": "web"],
                                                       clientToken: UUID().uuidString, timeoutMinutes: 60)
            #expect(snapshot.id.hasPrefix("snap-"))
            let blocks = [3: Data(repeating: 0xAB, count: EBSClient.blockSize),
                          7: Data((0..<EBSClient.blockSize).map { UInt8(truncatingIfNeeded: $0 &* 31) })]
            for (index, data) in blocks { try await ebs.putSnapshotBlock(snapshotID: snapshot.id, blockIndex: index, data: data) }
            try await ebs.completeSnapshot(snapshotID: snapshot.id, changedBlocksCount: blocks.count)

            let listed = try await ebs.listSnapshotBlocks(snapshotID: snapshot.id)
            #expect(listed.map(\.index) == [3, 7])
            for block in listed {
                let read = try await ebs.getSnapshotBlock(snapshotID: snapshot.id, block: block)
                #expect(read.data == blocks[block.index])
                #expect(read.checksum == EBSClient.checksum(of: blocks[block.index]!).base64)
            }
            let described = try await ec2.describeSnapshots(ids: [snapshot.id])
            #expect(described.map(\.id) == [snapshot.id])
        }
    }

    @Test func registerTagDescribeAndCleanUp() async throws {
        try await Moto.with { server in
            let (ebs, ec2) = clients(server)
            let snapshot = try await ebs.startSnapshot(volumeSizeGiB: 1, description: nil, tags: [:], clientToken: "t1")
            try await ebs.completeSnapshot(snapshotID: snapshot.id, changedBlocksCount: 0)
            let imageID = try await ec2.registerImage(RegisterImageRequest(
                name: "kiln-test", architecture: "x86_64", bootMode: "legacy-bios", snapshotID: snapshot.id, volumeSizeGiB: 1))
            #expect(imageID.hasPrefix("ami-"))
            try await ec2.createTags(resources: [imageID, snapshot.id], tags: ["kiln:build": "web", "team": "a b"])
            let images = try await ec2.describeImages(ids: [imageID])
            #expect(images.map(\.state) == ["available"])
            try await ec2.deregisterImage(id: imageID)
            try await ec2.deleteSnapshot(id: snapshot.id)
            let error = await #expect(throws: AWSError.self) { try await ec2.describeSnapshots(ids: [snapshot.id]) }
            #expect(error?.code == "InvalidSnapshot.NotFound")
        }
    }

    @Test func unknownSnapshotIsATypedError() async throws {
        try await Moto.with { server in
            let (_, ec2) = clients(server)
            let error = await #expect(throws: AWSError.self) { try await ec2.deleteSnapshot(id: "snap-00000000000000000") }
            #expect(error?.code == "InvalidSnapshot.NotFound")
            #expect(error?.httpStatus == 400)
        }
    }
}

/// A Python stub that answers 503 ThrottlingException twice, then success: the real
/// URLSession path and the retry loop together.
@Suite(.enabled(if: Moto.enabled), .timeLimit(.minutes(1)))
struct ThrottlingStubTests {
    static let script = """
        import http.server, sys
        count = {"n": 0}
        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_GET(self):
                self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0")); self.rfile.read(length)
                count["n"] += 1
                if count["n"] <= 2:
                    body = b'{"message":"Rate exceeded"}'
                    self.send_response(503); self.send_header("x-amzn-ErrorType", "ThrottlingException")
                else:
                    body = ('{"SnapshotId":"snap-stub","Status":"pending","VolumeSize":1,"BlockSize":524288,"Attempts":%d}' % count["n"]).encode()
                    self.send_response(201)
                self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
        """

    @Test func throttledTwiceThenSucceeds() async throws {
        let path = NSTemporaryDirectory() + "kiln-throttle-\(UUID().uuidString).py"
        try Self.script.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let server = try await LocalHTTPServer.start("python3", [path, "{PORT}"])
        defer { server.stop() }
        let recorder = RecordingTransport()
        let ebs = EBSClient(configuration: TestConfig.configuration(endpoint: server.url), transport: recorder,
                            retry: TestConfig.fastRetry)
        let snapshot = try await ebs.startSnapshot(volumeSizeGiB: 1, description: nil, tags: [:], clientToken: "same")
        #expect(snapshot.id == "snap-stub")
        #expect(recorder.requests.count == 3)
        // The retried StartSnapshot carries the same client token, so AWS would not start two snapshots.
        #expect(Set(recorder.requests.map(\.body)).count == 1)
    }
}
