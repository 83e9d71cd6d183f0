import Foundation
@testable import KilnAWS

/// Answers requests from a script and records them.
final class FakeTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var script: [Result<HTTPResponse, AWSError>]
    private(set) var requests: [HTTPRequest] = []

    init(_ script: [Result<HTTPResponse, AWSError>]) { self.script = script }

    func send(_ request: HTTPRequest, timeout: Duration) async throws -> HTTPResponse {
        let next: Result<HTTPResponse, AWSError> = lock.withLock {
            requests.append(request)
            return script.isEmpty ? .success(HTTPResponse(status: 200)) : script.removeFirst()
        }
        return try next.get()
    }

    var count: Int { lock.withLock { requests.count } }
}

/// Forwards to a real transport and records every request.
final class RecordingTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private let inner: any HTTPTransport
    private var recorded: [HTTPRequest] = []

    init(_ inner: any HTTPTransport = URLSessionTransport()) { self.inner = inner }

    func send(_ request: HTTPRequest, timeout: Duration) async throws -> HTTPResponse {
        lock.withLock { recorded.append(request) }
        return try await inner.send(request, timeout: timeout)
    }

    var requests: [HTTPRequest] { lock.withLock { recorded } }
}

enum TestConfig {
    static let keys = AWSCredentials(accessKeyID: "AKIDTEST", secretAccessKey: "testsecret", source: "test")

    static func configuration(endpoint: URL = URL(string: "http://127.0.0.1:9")!, region: String = "us-east-1") -> AWSConfiguration {
        AWSConfiguration(credentials: keys, region: region, endpointOverrides: ["ec2": endpoint, "ebs": endpoint])
    }

    static let fastRetry = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(5), maxDelay: .milliseconds(20),
                                       requestTimeout: .seconds(10), deadline: .seconds(20))
}
