import Foundation

/// Polls until a resource reaches a wanted state, fails at once on a failed state, and gives up
/// after `timeout`. Transient errors of one poll are the client's business (it retries).
struct ResourceWaiter: Sendable {
    var interval: Duration
    var timeout: Duration

    enum Outcome: Sendable { case ready, failed(String), pending(String) }

    struct TimedOut: Error { var lastState: String }

    func wait(_ poll: () async throws -> Outcome) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var lastState = "unknown"
        while true {
            switch try await poll() {
            case .ready: return
            case .failed(let message): throw Failed(message: message)
            case .pending(let state): lastState = state
            }
            guard clock.now + interval < deadline else { throw TimedOut(lastState: lastState) }
            try await Task.sleep(for: interval)
        }
    }

    struct Failed: Error { var message: String }
}
