import Foundation
import KilnTestSupport
import Testing
@testable import KilnAWS

/// The S3 client against moto_server on 127.0.0.1 (KILN_INTEGRATION=1, `moto[server]`).
@Suite(.enabled(if: Moto.enabled), .timeLimit(.minutes(2)))
struct S3MotoTests {
    func s3(_ server: LocalHTTPServer, _ transport: any HTTPTransport = URLSessionTransport()) -> S3Client {
        S3Client(configuration: AWSConfiguration(credentials: TestConfig.keys, region: "eu-west-1",
                                                 endpointOverrides: ["s3": server.url]),
                 transport: transport, retry: TestConfig.fastRetry)
    }

    /// A file of `size` bytes that differ from part to part, removed by the caller.
    func makeFile(size: Int) throws -> (String, Data) {
        let path = NSTemporaryDirectory() + "kiln-s3-\(UUID().uuidString).bin"
        var content = Data(count: size)
        content.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
            for index in stride(from: 0, to: size, by: 4096) { buffer[index] = UInt8(truncatingIfNeeded: index >> 12) }
        }
        content[size - 1] = 0xEE
        try content.write(to: URL(fileURLWithPath: path))
        return (path, content)
    }

    @Test func multipartRoundTrip() async throws {
        try await Moto.with { server in
            let s3 = s3(server)
            try await s3.createBucket("kiln-images")
            let status = try await s3.bucketStatus("kiln-images")
            #expect(status == .reachable)
            let (path, content) = try makeFile(size: (20 << 20) + 12345)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let plan = try S3PartPlan(fileSize: UInt64(content.count))
            #expect(plan.partCount == 3)

            let key = "kiln-import/web disk+1.vmdk"
            let uploadID = try await s3.createMultipartUpload(bucket: "kiln-images", key: key)
            #expect(try await s3.listMultipartUploads(bucket: "kiln-images") == [.init(key: key, uploadID: uploadID)])
            let parts = try await s3.uploadParts(of: try FileReader(path: path), plan: plan, bucket: "kiln-images", key: key,
                                                 uploadID: uploadID, concurrency: 3)
            #expect(parts.map(\.number) == [1, 2, 3])
            try await s3.completeMultipartUpload(bucket: "kiln-images", key: key, uploadID: uploadID, parts: parts)
            #expect(try await s3.listMultipartUploads(bucket: "kiln-images").isEmpty)
            #expect(try await s3.getObject(bucket: "kiln-images", key: key) == content)

            try await s3.deleteObject(bucket: "kiln-images", key: key)
            let gone = await #expect(throws: AWSError.self) { try await s3.getObject(bucket: "kiln-images", key: key) }
            #expect(gone?.code == "NoSuchKey")
            try await s3.deleteObject(bucket: "kiln-images", key: key)      // already gone: still fine
        }
    }

    @Test func abortLeavesNoUpload() async throws {
        try await Moto.with { server in
            let s3 = s3(server)
            try await s3.createBucket("kiln-images")
            let uploadID = try await s3.createMultipartUpload(bucket: "kiln-images", key: "k.raw")
            _ = try await s3.uploadPart(bucket: "kiln-images", key: "k.raw", uploadID: uploadID, number: 1,
                                        data: Data(repeating: 1, count: 1000))
            try await s3.abortMultipartUpload(bucket: "kiln-images", key: "k.raw", uploadID: uploadID)
            #expect(try await s3.listMultipartUploads(bucket: "kiln-images").isEmpty)
            let gone = await #expect(throws: AWSError.self) { try await s3.getObject(bucket: "kiln-images", key: "k.raw") }
            #expect(gone?.code == "NoSuchKey")
        }
    }

    @Test func missingBucket() async throws {
        try await Moto.with { server in
            let s3 = s3(server)
            let status = try await s3.bucketStatus("no-such-bucket")
            #expect(status == .missing)
            let error = await #expect(throws: AWSError.self) {
                _ = try await s3.createMultipartUpload(bucket: "no-such-bucket", key: "k")
            }
            #expect(error?.code == "NoSuchBucket")
        }
    }
}
