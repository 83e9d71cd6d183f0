import Crypto
import Foundation

/// Multipart uploads, each part with a SHA-256 checksum S3 verifies (`x-amz-checksum-sha256`,
/// declared at creation) besides the signed payload hash.
extension S3Client {
    public struct CompletedPart: Sendable, Equatable {
        public var number: Int
        public var eTag: String
        /// Base64 SHA-256 of the part.
        public var checksumSHA256: String

        public init(number: Int, eTag: String, checksumSHA256: String) {
            self.number = number
            self.eTag = eTag
            self.checksumSHA256 = checksumSHA256
        }
    }

    public struct MultipartUpload: Sendable, Equatable {
        public var key: String
        public var uploadID: String
    }

    /// CreateMultipartUpload; returns the upload id.
    public func createMultipartUpload(bucket: String, key: String,
                                      contentType: String = "application/octet-stream") async throws -> String {
        let response = try await send("POST", bucket: bucket, key: key, query: [("uploads", "")],
                                      headers: ["Content-Type": contentType, "x-amz-checksum-algorithm": "SHA256"])
        guard let id = (try? XMLTree.parse(response.body))?.text("UploadId"), !id.isEmpty else {
            throw AWSError(code: "InvalidResponse", message: "CreateMultipartUpload answered without an UploadId",
                           httpStatus: response.status)
        }
        return id
    }

    /// The headers UploadPart sends beside `data`, and the hex digest that is also its payload hash.
    public static func partHeaders(_ data: Data) -> (headers: [String: String], payloadHash: String) {
        let digest = SHA256.hash(data: data)
        return (["Content-Type": "application/octet-stream", "x-amz-checksum-sha256": Data(digest).base64EncodedString()],
                digest.hexString)
    }

    public func uploadPart(bucket: String, key: String, uploadID: String, number: Int, data: Data) async throws -> CompletedPart {
        let (headers, hash) = Self.partHeaders(data)
        let response = try await send("PUT", bucket: bucket, key: key,
                                      query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                      headers: headers, body: data, payloadHash: hash)
        guard let eTag = response.header("ETag"), !eTag.isEmpty else {
            throw AWSError(code: "InvalidResponse", message: "UploadPart \(number) answered without an ETag",
                           httpStatus: response.status)
        }
        return CompletedPart(number: number, eTag: eTag, checksumSHA256: headers["x-amz-checksum-sha256"]!)
    }

    /// The CompleteMultipartUpload document, parts in ascending order.
    public static func completeBody(_ parts: [CompletedPart]) -> Data {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts.sorted(by: { $0.number < $1.number }) {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(xmlEscaped(part.eTag))</ETag>"
                + "<ChecksumSHA256>\(part.checksumSHA256)</ChecksumSHA256></Part>"
        }
        return Data((xml + "</CompleteMultipartUpload>").utf8)
    }

    static func xmlEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// CompleteMultipartUpload; returns the object's ETag.
    @discardableResult
    public func completeMultipartUpload(bucket: String, key: String, uploadID: String,
                                        parts: [CompletedPart]) async throws -> String {
        let response = try await send("POST", bucket: bucket, key: key, query: [("uploadId", uploadID)],
                                      headers: ["Content-Type": "application/xml"], body: Self.completeBody(parts))
        return (try? XMLTree.parse(response.body))?.text("ETag") ?? ""
    }

    /// AbortMultipartUpload; S3 then frees the parts already stored.
    public func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws {
        _ = try await send("DELETE", bucket: bucket, key: key, query: [("uploadId", uploadID)])
    }

    /// The uploads started and neither completed nor aborted (first page: up to 1,000).
    public func listMultipartUploads(bucket: String, prefix: String? = nil) async throws -> [MultipartUpload] {
        var query = [("uploads", "")]
        if let prefix { query.append(("prefix", prefix)) }
        let response = try await send("GET", bucket: bucket, query: query)
        let root = try XMLTree.parse(response.body)
        return root.all("Upload").compactMap { upload in
            guard let key = upload.text("Key"), let id = upload.text("UploadId") else { return nil }
            return MultipartUpload(key: key, uploadID: id)
        }
    }

    /// Uploads every part of `file` as `plan` cuts it, `concurrency` parts in flight, each read
    /// from the file only when its turn comes. `progress` gets the bytes stored so far.
    /// On failure or cancellation the parts in flight are cancelled; aborting the upload is the
    /// caller's business.
    public func uploadParts(of file: FileReader, plan: S3PartPlan, bucket: String, key: String, uploadID: String,
                            concurrency: Int, progress: @escaping @Sendable (UInt64) -> Void = { _ in }) async throws -> [CompletedPart] {
        var parts: [CompletedPart] = []
        parts.reserveCapacity(plan.partCount)
        var done: UInt64 = 0
        try await withThrowingTaskGroup(of: (CompletedPart, Int).self) { group in
            var next = 1
            func startNext() {
                let number = next
                next += 1
                group.addTask {
                    let range = plan.range(ofPart: number)
                    let data = try file.read(offset: range.offset, count: range.length)
                    try Task.checkCancellation()
                    let part = try await uploadPart(bucket: bucket, key: key, uploadID: uploadID, number: number, data: data)
                    return (part, range.length)
                }
            }
            while next <= min(plan.partCount, max(1, concurrency)) { startNext() }
            while let (part, length) = try await group.next() {
                parts.append(part)
                done += UInt64(length)
                progress(done)
                if next <= plan.partCount { startNext() }
            }
        }
        return parts.sorted { $0.number < $1.number }
    }
}
