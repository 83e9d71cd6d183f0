import Foundation

/// Undo actions registered the moment something is created, run in reverse. Packer's cleanup
/// idea, typed: a step that fails halfway has already registered exactly what it made.
public final class CleanupStack: @unchecked Sendable {
    public struct Entry: Sendable {
        public var name: String
        public var action: @Sendable () async throws -> Void
    }

    private let lock = NSLock()
    private var entries: [Entry] = []
    private var nextID = 0
    private var ids: [Int] = []

    public init() {}

    /// Registers an undo; the returned token lets the owner drop it once the resource is gone
    /// or handed over (a disk renamed into the output directory needs no undo).
    @discardableResult
    public func push(_ name: String, _ action: @escaping @Sendable () async throws -> Void) -> Int {
        lock.withLock {
            nextID += 1
            entries.append(Entry(name: name, action: action))
            ids.append(nextID)
            return nextID
        }
    }

    public func remove(_ token: Int) {
        lock.withLock {
            if let index = ids.firstIndex(of: token) {
                ids.remove(at: index)
                entries.remove(at: index)
            }
        }
    }

    public var pending: [String] { lock.withLock { entries.map(\.name) } }

    /// Runs every undo, newest first, each once, best effort. Runs in a detached task so that
    /// cancellation of the build (Ctrl-C) does not cut the cleanup short.
    public func unwind(report: @escaping @Sendable (String, (any Error)?) -> Void) async {
        let work: [Entry] = lock.withLock {
            defer { entries.removeAll(); ids.removeAll() }
            return entries.reversed()
        }
        await Task.detached {
            for entry in work {
                do {
                    try await entry.action()
                    report(entry.name, nil)
                } catch {
                    report(entry.name, error)
                }
            }
        }.value
    }
}
