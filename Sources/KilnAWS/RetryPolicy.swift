import Foundation

/// Bounded retries with exponential backoff and full jitter: attempt n waits a random time in
/// 0...min(maxDelay, baseDelay * 2^n), so many clients throttled together spread out instead of
/// retrying in lockstep. Nothing is retried past `deadline` after the first attempt.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// One request's limit (connect, send, answer).
    public var requestTimeout: Duration
    /// One call's limit, all attempts and waits included.
    public var deadline: Duration

    public init(maxAttempts: Int = 6, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(20),
                requestTimeout: Duration = .seconds(60), deadline: Duration = .seconds(300)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.requestTimeout = requestTimeout
        self.deadline = deadline
    }

    public static let standard = RetryPolicy()

    /// The wait before retry number `retry` (0-based), drawn from `random` in 0..<1.
    public func delay(beforeRetry retry: Int, random: Double = Double.random(in: 0..<1)) -> Duration {
        let cap = baseDelay * Int(min(1 << min(retry, 30), 1 << 30))
        let ceiling = cap > maxDelay ? maxDelay : cap
        return ceiling * random
    }
}
