import Foundation
@testable import KilnAWS

enum AMITestDisks {
    /// A first sector with an MBR: boot code (optional), one partition of `type`, the 0x55AA signature.
    static func mbrHeader(type: UInt8 = 0x83, bootCode: Bool = true) -> [UInt8] {
        var sector = [UInt8](repeating: 0, count: 512)
        if bootCode { for index in 0..<440 { sector[index] = UInt8(truncatingIfNeeded: index &* 7 &+ 1) } }
        sector[446 + 4] = type
        sector[446 + 8] = 1                    // starts at LBA 1
        sector[446 + 12] = 0xFF                // a few sectors long
        sector[510] = 0x55
        sector[511] = 0xAA
        return sector
    }

    static let offlineConfiguration = AWSConfiguration(
        credentials: AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "secret", source: "test"),
        region: "us-east-1",
        endpointOverrides: ["ebs": URL(string: "http://127.0.0.1:9")!, "ec2": URL(string: "http://127.0.0.1:9")!])
}

/// Answers every request with success and records the paths (no network).
final class AMICountingTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [String] = []

    func send(_ request: HTTPRequest, timeout: Duration) async throws -> HTTPResponse {
        lock.withLock { recorded.append(request.url.path) }
        return HTTPResponse(status: 201, body: Data("{}".utf8))
    }

    var paths: [String] { lock.withLock { recorded } }
}

/// Forwards to a real transport, records every request, and lets a test intercept some:
/// `intercept` returns a response to answer instead, or nil to forward (it may also sleep or throw).
final class AMIRecordingTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private let inner = URLSessionTransport()
    private var recorded: [HTTPRequest] = []
    private let intercept: @Sendable (HTTPRequest) async throws -> HTTPResponse?

    init(intercept: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse? = { _ in nil }) {
        self.intercept = intercept
    }

    func send(_ request: HTTPRequest, timeout: Duration) async throws -> HTTPResponse {
        lock.withLock { recorded.append(request) }
        if let answer = try await intercept(request) { return answer }
        return try await inner.send(request, timeout: timeout)
    }

    var requests: [HTTPRequest] { lock.withLock { recorded } }

    /// EC2 actions sent, with their form fields.
    var ec2Calls: [(action: String, fields: [(String, String)])] {
        requests.filter { $0.method == "POST" && $0.url.path == "/" }.map { request in
            let pairs = String(decoding: request.body, as: UTF8.self).split(separator: "&").map { pair -> (String, String) in
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                return (parts[0], parts.count > 1 ? parts[1] : "")
            }
            return (pairs.first { $0.0 == "Action" }?.1 ?? "", pairs)
        }
    }

    var blockPuts: [HTTPRequest] { requests.filter { $0.method == "PUT" } }
}

extension AMIRecordingTransport {
    static func isAction(_ request: HTTPRequest, _ action: String) -> Bool {
        request.method == "POST" && String(decoding: request.body.prefix(200), as: UTF8.self).hasPrefix("Action=\(action)&")
    }
}
