import Dispatch
import Foundation

/// SIGINT and SIGTERM cancel the given task instead of killing the process, so that cleanup
/// still runs to the end (cirruslabs/tart does the same). A third signal exits at once.
final class SignalCancellation: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var count = 0

    init(cancelling task: Task<Void, any Error>, onSignal: @escaping @Sendable (String, Int) -> Void) {
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                let seen = lock.withLock { count += 1; return count }
                onSignal(name, seen)
                if seen >= 3 { exit(130) }
                task.cancel()
            }
            source.resume()
            sources.append(source)
        }
    }

    var received: Bool { lock.withLock { count > 0 } }

    deinit { sources.forEach { $0.cancel() } }
}
