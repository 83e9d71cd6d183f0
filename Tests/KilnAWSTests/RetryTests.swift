import Foundation
import Testing
@testable import KilnAWS

@Suite struct RetryTests {
    func client(_ transport: FakeTransport, retry: RetryPolicy = TestConfig.fastRetry) -> AWSServiceClient {
        AWSServiceClient(service: "ebs", configuration: TestConfig.configuration(), transport: transport, retry: retry)
    }

    static let throttled = HTTPResponse(status: 400, headers: ["x-amzn-ErrorType": "ThrottlingException"],
                                        body: Data(#"{"message":"Rate exceeded"}"#.utf8))
    static let unavailable = HTTPResponse(status: 503, body: Data("<Response><Errors><Error><Code>Unavailable</Code><Message>busy</Message></Error></Errors></Response>".utf8))

    @Test func throttlingAndServerErrorsAreRetriedThenSucceed() async throws {
        let transport = FakeTransport([.success(Self.throttled), .success(Self.unavailable), .success(HTTPResponse(status: 200, body: Data("{}".utf8)))])
        let response = try await client(transport).send(method: "GET", path: "/snapshots/snap-1/blocks")
        #expect(response.status == 200)
        #expect(transport.count == 3)
        // Each attempt is signed afresh (and carries the same body and URL).
        #expect(transport.requests.allSatisfy { $0.headers["Authorization"]?.hasPrefix("AWS4-HMAC-SHA256 ") == true })
    }

    @Test func connectionFailuresAreRetried() async throws {
        let transport = FakeTransport([.failure(AWSError(code: "ConnectionFailed", message: "reset", httpStatus: 0)),
                                       .success(HTTPResponse(status: 200))])
        _ = try await client(transport).send(method: "GET", path: "/")
        #expect(transport.count == 2)
    }

    @Test func clientErrorsAreNotRetried() async throws {
        let transport = FakeTransport([.success(HTTPResponse(status: 403, headers: ["x-amzn-ErrorType": "AccessDeniedException"],
                                                             body: Data(#"{"message":"not authorized"}"#.utf8)))])
        let error = await #expect(throws: AWSError.self) { try await client(transport).send(method: "GET", path: "/") }
        #expect(error?.code == "AccessDeniedException")
        #expect(error?.httpStatus == 403)
        #expect(transport.count == 1)
    }

    @Test func attemptsAreBounded() async throws {
        let transport = FakeTransport(Array(repeating: .success(Self.throttled), count: 10))
        let error = await #expect(throws: AWSError.self) { try await client(transport).send(method: "GET", path: "/") }
        #expect(error?.code == "ThrottlingException")
        #expect(transport.count == 4)
    }

    @Test func deadlineStopsRetries() async throws {
        let retry = RetryPolicy(maxAttempts: 50, baseDelay: .seconds(5), maxDelay: .seconds(5), deadline: .milliseconds(100))
        let transport = FakeTransport(Array(repeating: .success(Self.throttled), count: 10))
        let clock = ContinuousClock()
        let started = clock.now
        // Waits are drawn in 0...5 s against a 100 ms deadline: the loop gives up (or, on a tiny
        // draw, retries once or twice) well before the 50 attempts.
        let error = await #expect(throws: AWSError.self) {
            try await client(transport, retry: retry).send(method: "GET", path: "/")
        }
        #expect(clock.now - started < .seconds(30))
        #expect(error?.code == "ThrottlingException")
    }

    @Test func backoffIsFullJitterUnderAnExponentialCap() {
        let policy = RetryPolicy(baseDelay: .milliseconds(100), maxDelay: .seconds(2))
        #expect(policy.delay(beforeRetry: 0, random: 0.999) <= .milliseconds(100))
        #expect(policy.delay(beforeRetry: 3, random: 0.5) == .milliseconds(400))
        #expect(policy.delay(beforeRetry: 10, random: 0.5) == .seconds(1))
        #expect(policy.delay(beforeRetry: 60, random: 1) == .seconds(2))
        #expect(policy.delay(beforeRetry: 2, random: 0) == .zero)
    }

    @Test func cancellationStopsRetrying() async throws {
        let transport = FakeTransport(Array(repeating: .success(Self.throttled), count: 100))
        let retry = RetryPolicy(maxAttempts: 100, baseDelay: .seconds(1), maxDelay: .seconds(1), deadline: .seconds(100))
        let task = Task { try await client(transport, retry: retry).send(method: "GET", path: "/") }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(transport.count < 5)
    }
}
