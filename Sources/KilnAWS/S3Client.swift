import Crypto
import Foundation

/// The S3 REST calls the import path needs: bucket checks, multipart uploads, object deletion.
/// Every request carries `x-amz-content-sha256` with the real payload hash (S3 checks it).
public struct S3Client: Sendable {
    public var client: AWSServiceClient

    public init(configuration: AWSConfiguration, transport: any HTTPTransport, retry: RetryPolicy = .standard) {
        client = AWSServiceClient(service: "s3", configuration: configuration, transport: transport, retry: retry)
    }

    /// Path-style (`<endpoint>/<bucket>/<key>`) with an endpoint override (moto, MinIO...) or a
    /// bucket name with dots (which AWS's wildcard certificate does not cover); virtual-hosted
    /// (`https://<bucket>.s3.<region>.amazonaws.com/<key>`) otherwise.
    public func url(bucket: String, key: String = "", query: [(String, String)] = []) -> URL {
        var base: String
        var path: String
        let encodedKey = URIEncoding.encode(key, keepSlash: true)
        if let override = client.configuration.endpointOverrides["s3"] ?? (bucket.contains(".") ? client.endpoint : nil) {
            base = override.absoluteString
            while base.hasSuffix("/") { base.removeLast() }
            path = "/" + URIEncoding.encode(bucket) + (key.isEmpty ? "" : "/" + encodedKey)
        } else {
            base = "https://\(bucket).s3.\(client.configuration.region).amazonaws.com"
            path = "/" + encodedKey
        }
        var text = base + path
        if !query.isEmpty { text += "?" + URIEncoding.form(query) }
        return URL(string: text)!
    }

    /// Sends one request about `bucket`/`key`; `payloadHash` is the body's hex SHA-256 when already known.
    func send(_ method: String, bucket: String, key: String = "", query: [(String, String)] = [],
              headers: [String: String] = [:], body: Data = Data(), payloadHash: String? = nil,
              outcome: @escaping AWSServiceClient.Outcome = S3Client.outcome) async throws -> HTTPResponse {
        let hash = payloadHash ?? SigV4.sha256Hex(body)
        return try await client.send(method: method, url: url(bucket: bucket, key: key, query: query),
                                     headers: headers.merging(["x-amz-content-sha256": hash]) { _, new in new },
                                     body: body, payloadHash: hash, outcome: outcome)
    }

    /// S3's answers: errors in a bare `<Error>` document, and an answer without a body (HEAD)
    /// named after its status. A 200 whose body is an `<Error>` (CompleteMultipartUpload can
    /// answer so) is an error too.
    public static let outcome: AWSServiceClient.Outcome = { response in
        let isError = !(200..<300).contains(response.status)
        if !isError, !startsWithErrorElement(response.body) { return nil }
        var error = AWSError.parse(status: response.status, headers: response.headers, body: response.body)
        if response.body.isEmpty {
            switch response.status {
            case 404: error.code = "NotFound"
            case 403: error.code = "AccessDenied"
            case 301: error.code = "PermanentRedirect"
            default: break
            }
            if error.message.isEmpty { error.message = "HTTP \(response.status) without a body" }
        }
        return error
    }

    /// Whether the document's root element is `<Error>` (after an optional XML declaration).
    static func startsWithErrorElement(_ body: Data) -> Bool {
        var head = Substring(String(decoding: body.prefix(200), as: UTF8.self)).drop { $0.isWhitespace }
        if head.hasPrefix("<?xml"), let end = head.range(of: "?>") {
            head = head[end.upperBound...].drop { $0.isWhitespace }
        }
        return head.hasPrefix("<Error>") || head.hasPrefix("<Error ")
    }

    // MARK: buckets

    public enum BucketStatus: Sendable, Equatable {
        case reachable
        case missing
        case forbidden
        /// The bucket lives in another region (named when S3 says which).
        case otherRegion(String?)
    }

    /// HeadBucket: whether the bucket exists in this region and these credentials may use it.
    public func bucketStatus(_ bucket: String) async throws -> BucketStatus {
        let response = try await send("HEAD", bucket: bucket, outcome: { response in
            [200, 301, 307, 400, 403, 404].contains(response.status) ? nil : S3Client.outcome(response)
        })
        let region = response.header("x-amz-bucket-region")
        switch response.status {
        case 200: return .reachable
        case 404: return .missing
        case 301, 307: return .otherRegion(region)
        case 400 where region != nil && region != client.configuration.region: return .otherRegion(region)
        case 403: return .forbidden
        default:
            throw AWSError(code: "HTTP\(response.status)", message: "HeadBucket \(bucket) answered \(response.status)",
                           httpStatus: response.status, requestID: response.header("x-amz-request-id"))
        }
    }

    /// CreateBucket in the client's region (tests and benchmarks; Kiln never creates buckets).
    public func createBucket(_ bucket: String) async throws {
        var body = Data()
        if client.configuration.region != "us-east-1" {
            body = Data(("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                + "<LocationConstraint>\(client.configuration.region)</LocationConstraint></CreateBucketConfiguration>").utf8)
        }
        _ = try await send("PUT", bucket: bucket, body: body)
    }

    // MARK: objects

    public func getObject(bucket: String, key: String) async throws -> Data {
        try await send("GET", bucket: bucket, key: key).body
    }

    /// DeleteObject; succeeds when the object is already gone.
    public func deleteObject(bucket: String, key: String) async throws {
        _ = try await send("DELETE", bucket: bucket, key: key)
    }
}
