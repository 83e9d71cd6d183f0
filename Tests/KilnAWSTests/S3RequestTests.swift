import Crypto
import Foundation
import Testing
@testable import KilnAWS

/// S3 signatures checked against botocore 1.43's `S3SigV4Auth` (clock fixed at 2026-11-25T07:05:09Z).
@Suite struct S3SigningTests {
    func sign(_ method: String, _ url: String, _ headers: [String: String], body: Data) -> SigV4.Signature {
        SigV4.sign(method: method, url: URL(string: url)!, headers: headers, payloadHash: SigV4.sha256Hex(body),
                   credentials: SigV4Tests.keys, region: "eu-west-1", service: "s3", date: SigV4Tests.date)
    }

    @Test func uploadPartPathStyleWithAKeyNeedingEncoding() {
        let body = Data((0..<1024).map { UInt8($0 % 256) })
        let (headers, hash) = S3Client.partHeaders(body)
        #expect(hash == "785b0751fc2c53dc14a4ce3d800e69ef9ce1009eb327ccf458afe09c242c26c9")
        #expect(headers["x-amz-checksum-sha256"] == "eFsHUfwsU9wUpM49gA5p75zhAJ6zJ8z0WK/gnCQsJsk=")
        let s = sign("PUT", "http://127.0.0.1:5000/my-bucket/kiln-import/web%20a%2Bb.vmdk?partNumber=2&uploadId=abc%2Fdef",
                     headers.merging(["x-amz-content-sha256": hash]) { $1 }, body: body)
        #expect(s.authorization == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/eu-west-1/s3/aws4_request, "
            + "SignedHeaders=content-type;host;x-amz-checksum-sha256;x-amz-content-sha256;x-amz-date, "
            + "Signature=a2072b6df30273ef5d4418d840ee11b2bb44e8f6ed5dfb1fbd302d3440a779e6")
        // Encoded once, unlike the other services.
        #expect(s.canonicalRequest.hasPrefix("PUT\n/my-bucket/kiln-import/web%20a%2Bb.vmdk\npartNumber=2&uploadId=abc%2Fdef\n"))
    }

    @Test func headBucketVirtualHosted() {
        let empty = SigV4.sha256Hex(Data())
        let s = sign("HEAD", "https://my-bucket.s3.eu-west-1.amazonaws.com/", ["x-amz-content-sha256": empty], body: Data())
        #expect(s.authorization.hasSuffix("SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            + "Signature=9950fd82b82640a5f3abf5eb8b36d6f7bea94c81504e606b2d671001d227d9a2"))
    }

    @Test func dotSegmentsInAKeyAreKept() {
        let empty = SigV4.sha256Hex(Data())
        let s = sign("POST", "https://my-bucket.s3.eu-west-1.amazonaws.com/a/../b.raw?uploads=",
                     ["Content-Type": "application/octet-stream", "x-amz-checksum-algorithm": "SHA256",
                      "x-amz-content-sha256": empty], body: Data())
        #expect(s.authorization.hasSuffix("Signature=645ae599316cc604bf72823826510b26fc4764c39b4873990f47cd7e8d96c039"))
        #expect(s.canonicalRequest.hasPrefix("POST\n/a/../b.raw\nuploads=\n"))
    }
}

@Suite struct S3PartPlanTests {
    static let mebibyte: UInt64 = 1 << 20

    @Test func smallFilesUseEightMebibyteParts() throws {
        let plan = try S3PartPlan(fileSize: 20 * Self.mebibyte + 5)
        #expect(plan.partSize == 8 * Self.mebibyte)
        #expect(plan.partCount == 3)
        #expect(plan.range(ofPart: 1) == (0, 8 << 20))
        #expect(plan.range(ofPart: 3) == (16 * Self.mebibyte, (4 << 20) + 5))
        let one = try S3PartPlan(fileSize: 1000)
        #expect(one.partCount == 1)
        #expect(one.range(ofPart: 1) == (0, 1000))
        let empty = try S3PartPlan(fileSize: 0)
        #expect(empty.partCount == 1)
        #expect(empty.range(ofPart: 1) == (0, 0))
        let exact = try S3PartPlan(fileSize: 16 * Self.mebibyte)
        #expect(exact.partCount == 2)
        #expect(exact.range(ofPart: 2) == (8 * Self.mebibyte, 8 << 20))
    }

    @Test func partsGrowSoThatTenThousandAreEnough() throws {
        let atLimit = try S3PartPlan(fileSize: 80_000 * Self.mebibyte)
        #expect(atLimit.partSize == 8 * Self.mebibyte)
        #expect(atLimit.partCount == 10_000)
        let big = try S3PartPlan(fileSize: 100 << 30)
        #expect(big.partSize == 11 * Self.mebibyte)
        #expect(big.partCount == 9_310)
        let largest = try S3PartPlan(fileSize: S3PartPlan.largestObject)
        #expect(largest.partSize == 525 * Self.mebibyte)
        #expect(largest.partCount <= 10_000)
        #expect(largest.range(ofPart: largest.partCount).length > 0)
        #expect(throws: S3PartPlan.TooLarge.self) { try S3PartPlan(fileSize: S3PartPlan.largestObject + 1) }
    }

    @Test func theFloorIsNeverBelowWhatS3Accepts() throws {
        let plan = try S3PartPlan(fileSize: 12 * Self.mebibyte, minimumPartSize: 1 << 20)
        #expect(plan.partSize == 5 * Self.mebibyte)
        #expect(plan.partCount == 3)
    }
}

@Suite struct S3RequestTests {
    static let config = AWSConfiguration(credentials: TestConfig.keys, region: "eu-west-1",
                                         endpointOverrides: ["s3": URL(string: "http://127.0.0.1:5000/")!])
    static let awsConfig = AWSConfiguration(credentials: TestConfig.keys, region: "eu-west-1")

    func client(_ transport: any HTTPTransport, _ config: AWSConfiguration = config) -> S3Client {
        S3Client(configuration: config, transport: transport, retry: TestConfig.fastRetry)
    }

    @Test func addressing() {
        let local = client(FakeTransport([]))
        #expect(local.url(bucket: "my-bucket", key: "kiln-import/web 1.vmdk", query: [("partNumber", "1"), ("uploadId", "a+b")])
            .absoluteString == "http://127.0.0.1:5000/my-bucket/kiln-import/web%201.vmdk?partNumber=1&uploadId=a%2Bb")
        #expect(local.url(bucket: "my-bucket").absoluteString == "http://127.0.0.1:5000/my-bucket")
        let aws = client(FakeTransport([]), Self.awsConfig)
        #expect(aws.url(bucket: "my-bucket", key: "a/b.raw").absoluteString == "https://my-bucket.s3.eu-west-1.amazonaws.com/a/b.raw")
        #expect(aws.url(bucket: "my-bucket").absoluteString == "https://my-bucket.s3.eu-west-1.amazonaws.com/")
        #expect(aws.url(bucket: "my.dotted.bucket", key: "k").absoluteString == "https://s3.eu-west-1.amazonaws.com/my.dotted.bucket/k")
    }

    @Test func uploadPartSendsTheRealPayloadHashAndAChecksum() async throws {
        let transport = FakeTransport([.success(HTTPResponse(status: 200, headers: ["ETag": "\"e1\""]))])
        let data = Data(repeating: 7, count: 3000)
        let part = try await client(transport).uploadPart(bucket: "b-1", key: "k.vmdk", uploadID: "up/1", number: 4, data: data)
        let digest = SHA256.hash(data: data)
        #expect(part == S3Client.CompletedPart(number: 4, eTag: "\"e1\"", checksumSHA256: Data(digest).base64EncodedString()))
        let request = try #require(transport.requests.first)
        #expect(request.method == "PUT")
        #expect(request.url.absoluteString == "http://127.0.0.1:5000/b-1/k.vmdk?partNumber=4&uploadId=up%2F1")
        #expect(request.headers["x-amz-content-sha256"] == digest.map { String(format: "%02x", $0) }.joined())
        #expect(request.headers["x-amz-checksum-sha256"] == Data(digest).base64EncodedString())
        #expect(request.headers["Authorization"]?.contains("x-amz-checksum-sha256;x-amz-content-sha256;x-amz-date") == true)
        #expect(request.body == data)
    }

    @Test func createDeclaresTheChecksumAndParsesTheUploadID() async throws {
        let answer = """
            <?xml version="1.0" encoding="UTF-8"?>
            <InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b-1</Bucket>\
            <Key>k</Key><UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>
            """
        let transport = FakeTransport([.success(HTTPResponse(status: 200, body: Data(answer.utf8)))])
        let id = try await client(transport).createMultipartUpload(bucket: "b-1", key: "k")
        #expect(id == "VXBsb2FkIElE")
        let request = try #require(transport.requests.first)
        #expect(request.method == "POST")
        #expect(request.url.absoluteString == "http://127.0.0.1:5000/b-1/k?uploads=")
        #expect(request.headers["x-amz-checksum-algorithm"] == "SHA256")
        #expect(request.headers["x-amz-content-sha256"] == SigV4.sha256Hex(Data()))
    }

    @Test func completeBodyListsThePartsInOrder() {
        let body = S3Client.completeBody([
            .init(number: 2, eTag: "\"b\"", checksumSHA256: "Y2==") , .init(number: 1, eTag: "\"a\"", checksumSHA256: "X1=="),
        ])
        #expect(String(decoding: body, as: UTF8.self) == "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            + "<Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag><ChecksumSHA256>X1==</ChecksumSHA256></Part>"
            + "<Part><PartNumber>2</PartNumber><ETag>&quot;b&quot;</ETag><ChecksumSHA256>Y2==</ChecksumSHA256></Part>"
            + "</CompleteMultipartUpload>")
    }

    @Test func anErrorInsideA200IsRetried() async throws {
        let error = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"
        let done = "<CompleteMultipartUploadResult><ETag>\"abc-2\"</ETag></CompleteMultipartUploadResult>"
        let transport = FakeTransport([.success(HTTPResponse(status: 200, body: Data(error.utf8))),
                                       .success(HTTPResponse(status: 200, body: Data(done.utf8)))])
        let eTag = try await client(transport).completeMultipartUpload(
            bucket: "b-1", key: "k", uploadID: "u", parts: [.init(number: 1, eTag: "\"a\"", checksumSHA256: "X")])
        #expect(eTag == "\"abc-2\"")
        #expect(transport.count == 2)
    }

    @Test func s3ErrorDocumentsAreTyped() async throws {
        let answer = "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>"
            + "<BucketName>nope</BucketName><RequestId>R1</RequestId></Error>"
        let transport = FakeTransport([.success(HTTPResponse(status: 404, body: Data(answer.utf8)))])
        let error = await #expect(throws: AWSError.self) { try await client(transport).deleteObject(bucket: "nope", key: "k") }
        #expect(error == AWSError(code: "NoSuchBucket", message: "The specified bucket does not exist", httpStatus: 404, requestID: "R1"))
    }

    @Test func headBucketTellsMissingForbiddenAndForeignBuckets() async throws {
        func status(_ response: HTTPResponse) async throws -> S3Client.BucketStatus {
            try await client(FakeTransport([.success(response)])).bucketStatus("b-1")
        }
        #expect(try await status(HTTPResponse(status: 200)) == .reachable)
        #expect(try await status(HTTPResponse(status: 404)) == .missing)
        #expect(try await status(HTTPResponse(status: 403)) == .forbidden)
        #expect(try await status(HTTPResponse(status: 301, headers: ["x-amz-bucket-region": "us-west-2"])) == .otherRegion("us-west-2"))
        #expect(try await status(HTTPResponse(status: 400, headers: ["x-amz-bucket-region": "ap-south-1"])) == .otherRegion("ap-south-1"))

        let transport = FakeTransport(Array(repeating: .success(HTTPResponse(status: 503)), count: 4))
        let error = await #expect(throws: AWSError.self) { try await client(transport).bucketStatus("b-1") }
        #expect(error?.httpStatus == 503)
        #expect(transport.count == 4)
        #expect(transport.requests.first?.method == "HEAD")
        #expect(transport.requests.first?.url.absoluteString == "http://127.0.0.1:5000/b-1")
    }

    @Test func partsAreReadFromTheFileAtTheirOffsets() async throws {
        let path = NSTemporaryDirectory() + "kiln-s3-parts-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let content = Data((0..<(11 << 20) + 3).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 16) })
        try content.write(to: URL(fileURLWithPath: path))
        let plan = try S3PartPlan(fileSize: UInt64(content.count), minimumPartSize: 5 << 20)
        #expect(plan.partCount == 3)
        let transport = PartEchoTransport()
        let progress = LockedList()
        let parts = try await client(transport).uploadParts(of: try FileReader(path: path), plan: plan, bucket: "b-1", key: "k",
                                                            uploadID: "u", concurrency: 2) { progress.append($0) }
        #expect(parts.map(\.number) == [1, 2, 3])
        #expect(parts.map(\.eTag) == ["\"part-1\"", "\"part-2\"", "\"part-3\""])
        let bodies = Dictionary(uniqueKeysWithValues: transport.requests.map { request in
            (Int(URLComponents(url: request.url, resolvingAgainstBaseURL: false)!.queryItems!.first { $0.name == "partNumber" }!.value!)!,
             request.body)
        })
        for number in 1...3 {
            let range = plan.range(ofPart: number)
            #expect(bodies[number] == content.subdata(in: Int(range.offset)..<Int(range.offset) + range.length), "part \(number)")
        }
        #expect(progress.values.sorted().last == UInt64(content.count))
        #expect(transport.maxInFlight <= 2)
    }
}

/// Answers UploadPart with an ETag naming the part, and counts the requests in flight.
final class PartEchoTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [HTTPRequest] = []
    private var inFlight = 0
    private(set) var maxInFlight = 0

    func send(_ request: HTTPRequest, timeout: Duration) async throws -> HTTPResponse {
        lock.withLock {
            recorded.append(request)
            inFlight += 1
            maxInFlight = max(maxInFlight, inFlight)
        }
        try await Task.sleep(for: .milliseconds(20))
        lock.withLock { inFlight -= 1 }
        let number = URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.queryItems?
            .first { $0.name == "partNumber" }?.value ?? "?"
        return HTTPResponse(status: 200, headers: ["ETag": "\"part-\(number)\""])
    }

    var requests: [HTTPRequest] { lock.withLock { recorded } }
}

final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [UInt64] = []
    func append(_ value: UInt64) { lock.withLock { items.append(value) } }
    var values: [UInt64] { lock.withLock { items } }
}
