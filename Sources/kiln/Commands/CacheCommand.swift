import ArgumentParser
import Foundation
import KilnCore
import KilnDrivers

struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Show or clean the cache of base images and step layers ($KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln).",
        subcommands: [List.self, Prune.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List cached downloads, bootstrapped images and step layers with sizes.")
        @OptionGroup var output: OutputOptions

        func run() {
            let inventory = CacheInventory()
            let entries = inventory.list()
            if output.json {
                let objects: [[String: Any]] = entries.map {
                    ["kind": $0.kind.rawValue, "path": $0.path, "origin": $0.origin, "size": $0.sizeOnDisk,
                     "in_use": $0.inUse, "complete": $0.complete,
                     "last_used": $0.lastUsed.map { ISO8601DateFormatter().string(from: $0) } ?? NSNull()]
                }
                let data = (try? JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("cache: \(inventory.cache.root)")
            if entries.isEmpty { print("  (empty)") }
            for entry in entries {
                let used = entry.lastUsed.map { ISO8601DateFormatter().string(from: $0) } ?? "-"
                let flags = (entry.inUse ? " [in use]" : "") + (entry.complete ? "" : " [incomplete]")
                print("  \(entry.kind.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(ByteFormat.string(entry.sizeOnDisk).padding(toLength: 10, withPad: " ", startingAt: 0)) \(used)  \(entry.origin)\(flags)")
            }
            let total = entries.reduce(UInt64(0)) { $0 + $1.sizeOnDisk }
            print("  total: \(ByteFormat.string(total)) in \(entries.count) entries")
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove cache entries no running build uses: incomplete leftovers always, and those unused for --older-than (or --all).")

        @Option(name: .customLong("older-than"), help: "A duration such as 7d, 24h or 30m.")
        var olderThan: String?

        @Flag(name: .long, help: "Remove every entry not in use.")
        var all = false

        func run() throws {
            let age = try olderThan.map(Self.parseAge)
            let removed = CacheInventory().prune(olderThan: age, all: all)
            for entry in removed { print("removed \(entry.kind.rawValue) \(entry.origin) (\(ByteFormat.string(entry.sizeOnDisk)))") }
            print("freed \(ByteFormat.string(removed.reduce(UInt64(0)) { $0 + $1.sizeOnDisk })) in \(removed.count) entries")
        }

        static func parseAge(_ text: String) throws -> Duration {
            let units: [Character: Int64] = ["d": 86_400, "h": 3_600, "m": 60, "s": 1]
            guard let unit = text.last, let scale = units[unit], let value = Int64(text.dropLast()), value >= 0 else {
                throw ValidationError("--older-than \(text): expected a number and a unit (d, h, m or s), e.g. 7d")
            }
            return .seconds(value * scale)
        }
    }
}
