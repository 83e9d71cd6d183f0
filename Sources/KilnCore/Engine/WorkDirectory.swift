import Foundation

/// Per-build working directories, recognisable as Kiln's after a crash: each records its owner.
public enum WorkDirectory {
    public struct Owner: Codable, Sendable, Equatable {
        public var pid: Int32
        /// The owner's start time (from /proc), so a recycled PID is not mistaken for it.
        public var startTime: String?
        public var build: String
        public var domain: String
        public var created: Date
    }

    static let ownerFile = "owner.json"
    /// Holds the path of the build's staging directory, so a crashed build's partial outputs can be found.
    public static let stagingRecord = "staging-path"

    /// Creates `root/kiln-<id>` with mode 0700 and writes the owner record.
    public static func create(root: String, id: String, build: String, domain: String) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let path = "\(root)/kiln-\(id)"
        try fm.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let pid = getpid()
        let owner = Owner(pid: pid, startTime: processStartTime(pid), build: build, domain: domain, created: Date())
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(owner).write(to: URL(fileURLWithPath: "\(path)/\(ownerFile)"))
        return path
    }

    /// Working directories under `root` whose owning process is gone.
    public static func orphans(root: String) -> [(path: String, owner: Owner)] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: root) else { return [] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return names.filter { $0.hasPrefix("kiln-") }.sorted().compactMap { name in
            let path = "\(root)/\(name)"
            guard let data = fm.contents(atPath: "\(path)/\(ownerFile)"),
                  let owner = try? decoder.decode(Owner.self, from: data)
            else { return nil }
            return isAlive(owner) ? nil : (path, owner)
        }
    }

    public static func isAlive(_ owner: Owner) -> Bool {
        isAlive(pid: owner.pid, startTime: owner.startTime)
    }

    /// The process is there and, when its start time was recorded, is the same one.
    public static func isAlive(pid: Int32, startTime: String?) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let recorded = startTime else { return true }
        return processStartTime(pid) == recorded
    }

    public static func isAlive(pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Field 22 of /proc/PID/stat: the start time in clock ticks since boot.
    public static func processStartTime(_ pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field 22 is fields[19].
        return fields.count > 19 ? String(fields[19]) : nil
    }
}
