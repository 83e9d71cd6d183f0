import Foundation

/// One AWS service at one endpoint: builds, signs (afresh for every attempt), sends and retries
/// requests, and turns error answers into `AWSError`.
public struct AWSServiceClient: Sendable {
    public var service: String
    public var configuration: AWSConfiguration
    public var transport: any HTTPTransport
    public var retry: RetryPolicy
    public var now: @Sendable () -> Date

    public init(service: String, configuration: AWSConfiguration, transport: any HTTPTransport,
                retry: RetryPolicy = .standard, now: @escaping @Sendable () -> Date = { Date() }) {
        self.service = service
        self.configuration = configuration
        self.transport = transport
        self.retry = retry
        self.now = now
    }

    public var endpoint: URL { configuration.endpoint(for: service) }

    /// Sends a request; `payloadHash` defaults to the body's SHA-256 (pass it when already known,
    /// or `SigV4.unsignedPayload` together with an `X-Amz-Content-SHA256` header).
    public func send(method: String, path: String, query: [(String, String)] = [], headers: [String: String] = [:],
                     body: Data = Data(), payloadHash: String? = nil) async throws -> HTTPResponse {
        try await send(method: method, url: makeURL(path: path, query: query), headers: headers, body: body,
                       payloadHash: payloadHash)
    }

    /// What an answer means: nil to return it, or the error it carries (retried when retryable).
    public typealias Outcome = @Sendable (HTTPResponse) -> AWSError?

    /// 2xx is success; anything else is parsed into an `AWSError`.
    public static let standardOutcome: Outcome = { response in
        (200..<300).contains(response.status) ? nil
            : AWSError.parse(status: response.status, headers: response.headers, body: response.body)
    }

    /// Sends a request to a full URL (S3 builds its own: virtual-hosted or path-style).
    public func send(method: String, url: URL, headers: [String: String] = [:], body: Data = Data(),
                     payloadHash: String? = nil, outcome: Outcome = AWSServiceClient.standardOutcome) async throws -> HTTPResponse {
        let hash = payloadHash ?? SigV4.sha256Hex(body)
        let clock = ContinuousClock()
        let started = clock.now
        var retryNumber = 0
        while true {
            try Task.checkCancellation()
            let signature = SigV4.sign(method: method, url: url, headers: headers, payloadHash: hash,
                                       credentials: configuration.credentials, region: configuration.region,
                                       service: service, date: now())
            let request = HTTPRequest(method: method, url: url,
                                      headers: headers.merging(signature.headers) { _, new in new }, body: body)
            let failure: AWSError
            do {
                let response = try await transport.send(request, timeout: retry.requestTimeout)
                guard let error = outcome(response) else { return response }
                failure = error
            } catch let error as AWSError {
                failure = error
            }
            let wait = retry.delay(beforeRetry: retryNumber)
            retryNumber += 1
            guard failure.isRetryable, retryNumber < retry.maxAttempts else { throw failure }
            guard clock.now - started + wait < retry.deadline else {
                throw AWSError(code: failure.code, message: failure.message + " (gave up after \(retryNumber) attempts: "
                               + "the \(retry.deadline) deadline would pass)", httpStatus: failure.httpStatus,
                               requestID: failure.requestID)
            }
            try await Task.sleep(for: wait)
        }
    }

    func makeURL(path: String, query: [(String, String)]) -> URL {
        var base = endpoint.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        var text = base + (path.hasPrefix("/") ? path : "/" + path)
        if !query.isEmpty { text += "?" + URIEncoding.form(query) }
        return URL(string: text)!
    }
}
