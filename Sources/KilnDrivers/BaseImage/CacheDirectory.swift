import Foundation

/// Where Kiln keeps downloaded and bootstrapped base images:
/// `$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`.
///
///     downloads/<sha256 of the URL>/   <file name>, metadata.json, .lock
///     bootstrap/<sha256 of spec + recipe version>/   disk.qcow2, vmlinuz, initrd.img, metadata.json, .lock
public struct CacheDirectory: Sendable, Equatable {
    public let root: String

    public init(_ root: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.root = root ?? Self.defaultRoot(environment: environment)
    }

    public static func defaultRoot(environment: [String: String]) -> String {
        if let dir = environment["KILN_CACHE_DIR"], !dir.isEmpty { return dir }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/kiln" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.cache/kiln"
    }

    public var downloads: String { root + "/downloads" }
    public var bootstraps: String { root + "/bootstrap" }

    func downloadEntry(forURL url: String) -> String { downloads + "/" + StreamingDigest.hex(sha256Of: url) }
    func bootstrapEntry(forKey key: String) -> String { bootstraps + "/" + key }
}

/// The files every cache entry has.
enum CacheEntryFiles {
    static let lock = ".lock"
    static let metadata = "metadata.json"
    static let temporaryPrefix = ".tmp-"
}
