import Crypto
import Foundation

/// The EBS direct APIs: write a snapshot block by block, without a volume or an instance.
public struct EBSClient: Sendable {
    /// The only block size the direct APIs accept.
    public static let blockSize = 512 * 1024

    public var client: AWSServiceClient

    public init(configuration: AWSConfiguration, transport: any HTTPTransport, retry: RetryPolicy = .standard) {
        client = AWSServiceClient(service: "ebs", configuration: configuration, transport: transport, retry: retry)
    }

    public struct Snapshot: Sendable, Equatable {
        public var id: String
        public var status: String
        public var volumeSizeGiB: Int
        public var blockSize: Int
    }

    public struct Block: Sendable, Equatable {
        public var index: Int
        public var token: String
    }

    public struct BlockData: Sendable {
        public var data: Data
        public var checksum: String?
        public var dataLength: Int?
    }

    /// StartSnapshot. `clientToken` makes a retried call idempotent; `timeoutMinutes` is how long
    /// AWS keeps the snapshot pending without activity before it fails it.
    public func startSnapshot(volumeSizeGiB: Int, description: String?, tags: [String: String], clientToken: String,
                              timeoutMinutes: Int? = nil) async throws -> Snapshot {
        var body: [String: Any] = ["VolumeSize": volumeSizeGiB, "ClientToken": clientToken]
        if let description { body["Description"] = description }
        if !tags.isEmpty {
            body["Tags"] = tags.sorted { $0.key < $1.key }.map { ["Key": $0.key, "Value": $0.value] }
        }
        if let timeoutMinutes { body["Timeout"] = timeoutMinutes }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        let response = try await client.send(method: "POST", path: "/snapshots",
                                             headers: ["Content-Type": "application/json"], body: data)
        let object = try Self.json(response)
        guard let id = object["SnapshotId"] as? String else {
            throw AWSError(code: "InvalidResponse", message: "StartSnapshot answered without a SnapshotId", httpStatus: response.status)
        }
        return Snapshot(id: id, status: object["Status"] as? String ?? "pending",
                        volumeSizeGiB: Self.int(object["VolumeSize"]) ?? volumeSizeGiB,
                        blockSize: Self.int(object["BlockSize"]) ?? Self.blockSize)
    }

    /// The values PutSnapshotBlock sends beside the data: base64 SHA-256, and the hex digest that
    /// doubles as the signed payload hash (the body is exactly the block).
    public static func checksum(of block: Data) -> (base64: String, hex: String) {
        let digest = SHA256.hash(data: block)
        return (Data(digest).base64EncodedString(), digest.hexString)
    }

    public func putSnapshotBlock(snapshotID: String, blockIndex: Int, data: Data) async throws {
        let checksum = Self.checksum(of: data)
        _ = try await client.send(
            method: "PUT", path: "/snapshots/\(URIEncoding.encode(snapshotID))/blocks/\(blockIndex)",
            headers: [
                "Content-Type": "application/octet-stream",
                "x-amz-Checksum": checksum.base64,
                "x-amz-Checksum-Algorithm": "SHA256",
                "x-amz-Data-Length": String(data.count),
            ],
            body: data, payloadHash: checksum.hex)
    }

    /// CompleteSnapshot; returns the status AWS answers (`pending` while it seals the snapshot).
    @discardableResult
    public func completeSnapshot(snapshotID: String, changedBlocksCount: Int) async throws -> String {
        let response = try await client.send(method: "POST", path: "/snapshots/completion/\(URIEncoding.encode(snapshotID))",
                                             headers: ["x-amz-ChangedBlocksCount": String(changedBlocksCount)])
        return (try? Self.json(response))?["Status"] as? String ?? "pending"
    }

    /// Every written block of a snapshot, following pagination.
    public func listSnapshotBlocks(snapshotID: String) async throws -> [Block] {
        var blocks: [Block] = []
        var pageToken: String?
        repeat {
            var query = [("maxResults", "10000")]
            if let pageToken { query.append(("pageToken", pageToken)) }
            let response = try await client.send(method: "GET", path: "/snapshots/\(URIEncoding.encode(snapshotID))/blocks",
                                                 query: query)
            let object = try Self.json(response)
            for item in object["Blocks"] as? [[String: Any]] ?? [] {
                guard let index = Self.int(item["BlockIndex"]), let token = item["BlockToken"] as? String else { continue }
                blocks.append(Block(index: index, token: token))
            }
            pageToken = (object["NextToken"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        } while pageToken != nil
        return blocks.sorted { $0.index < $1.index }
    }

    public func getSnapshotBlock(snapshotID: String, block: Block) async throws -> BlockData {
        let response = try await client.send(method: "GET",
                                             path: "/snapshots/\(URIEncoding.encode(snapshotID))/blocks/\(block.index)",
                                             query: [("blockToken", block.token)])
        return BlockData(data: response.body, checksum: response.header("x-amz-Checksum"),
                         dataLength: response.header("x-amz-Data-Length").flatMap { Int($0) })
    }

    static func json(_ response: HTTPResponse) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
            throw AWSError(code: "InvalidResponse", message: "expected a JSON object, got "
                           + String(decoding: response.body.prefix(200), as: UTF8.self), httpStatus: response.status)
        }
        return object
    }

    static func int(_ value: Any?) -> Int? {
        switch value {
        case let number as NSNumber: return number.intValue
        case let text as String: return Int(text)
        default: return nil
        }
    }
}
