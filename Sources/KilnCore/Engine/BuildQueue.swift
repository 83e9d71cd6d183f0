import Foundation

/// One build waiting to run: what it waits for and how much guest memory it will take.
public struct QueuedBuild: Sendable, Equatable {
    public var id: String
    /// The build whose output this one starts from; it must succeed first.
    public var after: String?
    public var memoryMiB: Int
    public init(id: String, after: String? = nil, memoryMiB: Int) {
        self.id = id
        self.after = after
        self.memoryMiB = memoryMiB
    }
}

/// Runs builds concurrently: at most `parallel` at once, their guests' memory within
/// `memoryBudgetMiB` (one build always runs, whatever it needs), each after the build it starts
/// from. A build whose parent failed is skipped. `run` returns whether the build succeeded;
/// when it throws (cancellation), nothing new starts and the error ends the queue.
public enum BuildQueue {
    public static func run(_ builds: [QueuedBuild], parallel: Int, memoryBudgetMiB: Int?,
                           skipped: @escaping @Sendable (QueuedBuild, _ reason: String) -> Void,
                           run: @escaping @Sendable (QueuedBuild) async throws -> Bool) async throws {
        try await withThrowingTaskGroup(of: (String, Bool).self) { group in
            var pending = builds
            var running: [String: Int] = [:]
            var succeeded = Set<String>()
            var failed = Set<String>()
            while true {
                var index = 0
                while index < pending.count {
                    let build = pending[index]
                    if let parent = build.after, failed.contains(parent) {
                        pending.remove(at: index)
                        failed.insert(build.id)
                        skipped(build, "the build it starts from (\(parent)) did not succeed")
                        index = 0
                        continue
                    }
                    let ready = build.after.map { succeeded.contains($0) } ?? true
                    let used = running.values.reduce(0, +)
                    let fits = running.isEmpty || memoryBudgetMiB.map { used + build.memoryMiB <= $0 } ?? true
                    if ready, fits, running.count < max(1, parallel) {
                        pending.remove(at: index)
                        running[build.id] = build.memoryMiB
                        group.addTask { (build.id, try await run(build)) }
                        continue
                    }
                    index += 1
                }
                guard let (id, ok) = try await group.next() else { break }
                running[id] = nil
                if ok { succeeded.insert(id) } else { failed.insert(id) }
            }
            // Whatever is left waits on something that can no longer happen.
            for build in pending { skipped(build, "the build it starts from never ran") }
        }
    }

    /// MemAvailable from /proc/meminfo minus 1 GiB for the host, in MiB; nil when unreadable.
    public static func hostMemoryBudgetMiB() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
              let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return max(0, kib / 1024 - 1024)
    }
}
