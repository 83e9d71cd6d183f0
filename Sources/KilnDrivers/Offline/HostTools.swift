import Foundation

/// Absolute paths of host tools.
///
/// Works around `Subprocess.which`, whose `split(separator:) + [...]` builds arrays of
/// characters and so finds nothing on PATH; with an absolute path it is not used.
enum HostTools {
    static func path(_ name: String) -> String {
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = searchPath.split(separator: ":").map(String.init) + ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        for directory in directories {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return name
    }
}
