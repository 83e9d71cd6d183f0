import Foundation

/// Waits for a guest's SSH server with overlapping attempts. Through user-mode networking a
/// connection to the forwarded port is accepted at once and then hangs until the guest answers,
/// so one attempt at a time can sit seconds in a dead attempt while sshd is already up. A new
/// attempt starts every poll interval (a few in flight at most); the first to log in wins and
/// the stragglers close themselves. Measured in docs/benchmarks.md.
struct SSHPoller: Sendable {
    enum Outcome: Sendable {
        case connected(any GuestShell, attempts: Int)
        /// The guest stopped, or the deadline passed: the last connection error and the attempt count.
        case gaveUp(lastError: String, attempts: Int, guestStopped: VMState?)
    }

    var connector: any GuestConnector
    var endpoint: GuestEndpoint
    var vm: any VirtualMachine
    var interval: Duration
    var deadline: ContinuousClock.Instant
    // Hung attempts cost a socket each; a low cap let a few of them block new attempts for seconds.
    var maxInFlight = 32

    private enum Event: Sendable {
        case tick
        case failed(String)
        case connected(any GuestShell)
    }

    func run() async throws -> Outcome {
        let (events, sink) = AsyncStream<Event>.makeStream()
        let winner = WinnerFlag()
        let connector = self.connector, endpoint = self.endpoint
        var attempts: [Task<Void, Never>] = []
        let ticker = Task {
            while !Task.isCancelled {
                sink.yield(.tick)
                try? await Task.sleep(for: interval)
            }
        }
        defer {
            ticker.cancel()
            winner.close()
            attempts.forEach { $0.cancel() }
            sink.finish()
        }

        var inFlight = 0
        var lastError = "no attempt finished"
        for await event in events {
            switch event {
            case .connected(let shell):
                return .connected(shell, attempts: attempts.count)
            case .failed(let error):
                inFlight -= 1
                lastError = error
            case .tick:
                let state = try await vm.polledState()
                if [.shutoff, .gone, .crashed].contains(state) {
                    return .gaveUp(lastError: lastError, attempts: attempts.count, guestStopped: state)
                }
                if ContinuousClock.now >= deadline {
                    return .gaveUp(lastError: lastError, attempts: attempts.count, guestStopped: nil)
                }
                guard inFlight < maxInFlight else { continue }
                inFlight += 1
                attempts.append(Task {
                    do {
                        let shell = try await connector.connect(endpoint)
                        if winner.claim() {
                            sink.yield(.connected(shell))
                        } else {
                            await shell.close()
                        }
                    } catch {
                        sink.yield(.failed("\(error)"))
                    }
                })
            }
        }
        throw CancellationError()
    }
}

/// Lets exactly one attempt win; after `close()` nobody can.
private final class WinnerFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var taken = false
    func claim() -> Bool {
        lock.withLock {
            if taken { return false }
            taken = true
            return true
        }
    }
    func close() { lock.withLock { taken = true } }
}
