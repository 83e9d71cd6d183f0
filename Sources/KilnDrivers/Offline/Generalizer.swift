import Foundation
import GuestFS
import KilnCore
import KilnTemplate

/// Runs the generalize operations of a spec on a mounted guest (on the handle's queue).
enum Generalizer {
    struct Outcome: Sendable {
        var removed: [String] = []
        var notes: [String] = []
    }

    static func run(_ spec: GeneralizeRequest, seed: SeedMaterial?, on h: Handle) throws -> Outcome {
        var outcome = Outcome()
        for operation in spec.operations {
            for action in GeneralizePlan.actions(for: operation) {
                try offline("generalize \(operation.rawValue) failed") {
                    try perform(action, seed: seed, on: h, into: &outcome)
                }
            }
        }
        for pattern in spec.delete {
            try offline("generalize delete \(pattern) failed") {
                try perform(.remove(pattern), seed: seed, on: h, into: &outcome)
            }
        }
        return outcome
    }

    private static func perform(_ action: GeneralizeAction, seed: SeedMaterial?, on h: Handle,
                                into outcome: inout Outcome) throws {
        switch action {
        case .remove(let pattern):
            for path in try h.globExpand(pattern).map(GuestPath.trimmed) {
                try h.rmRF(path)
                outcome.removed.append(path)
            }
        case .truncate(let pattern):
            for path in try h.globExpand(pattern).map(GuestPath.trimmed) {
                guard try h.isFile(path) else { continue }
                try h.truncate(path)
                outcome.removed.append("\(path) (emptied)")
            }
        case .clearLogs:
            outcome.removed += try clearLogs(on: h)
        case .removeBuildKey:
            outcome.removed += try GuestSeeding.removeBuildKey(seed, on: h)
        case .ensureHostKeyRegeneration:
            outcome.notes.append(try SSHDStartup.ensureHostKeyRegeneration(on: h))
        }
    }

    /// Current log files are emptied (services expect them, with their owners and modes);
    /// rotated logs and journal files are removed.
    private static func clearLogs(on h: Handle) throws -> [String] {
        guard try h.isDirectory("/var/log") else { return [] }
        var changed: [String] = []
        for found in try h.find("/var/log").sorted() {
            let relative = GuestPath.trimmed(found).drop { $0 == "/" }.description
            let path = GuestPath.join("/var/log", relative)
            guard try h.isFile(path) else { continue }
            if isRotatedOrJournal(relative) {
                try h.rm(path)
                changed.append(path)
            } else if try h.lstat(path).size > 0 {
                try h.truncate(path)
                changed.append("\(path) (emptied)")
            }
        }
        return changed
    }

    static func isRotatedOrJournal(_ relativePath: String) -> Bool {
        let name = (relativePath as NSString).lastPathComponent
        if relativePath.hasPrefix("journal/") && (name.hasSuffix(".journal") || name.hasSuffix(".journal~")) { return true }
        if [".gz", ".xz", ".bz2", ".zst", ".old"].contains(where: name.hasSuffix) { return true }
        // syslog.1, dpkg.log.2
        if let last = name.split(separator: ".").last, name.contains("."), Int(last) != nil { return true }
        return false
    }
}
