import Foundation

/// The shell command that writes its standard input to a guest path, for any POSIX guest
/// (busybox and dropbear included: it needs only sh, mkdir, cat, chmod and mv).
enum UploadCommand {
    /// Writes to a temporary file beside the target and renames it, so the target never holds a
    /// partial file; the temporary name carries the shell's PID so concurrent uploads don't clash.
    static func make(path: String, mode: Int) -> String {
        let target = shellQuote(path)
        let temporary = "\(target).kiln-upload.$$"
        let octal = "0" + String(mode, radix: 8)
        var steps: [String] = []
        if let directory = parentDirectory(of: path) {
            steps.append("mkdir -p \(shellQuote(directory))")
        }
        // The content may be secret: the temporary file is private until chmod sets the mode.
        steps.append("(umask 077 && cat > \(temporary))")
        steps.append("chmod \(octal) \(temporary)")
        steps.append("mv -f \(temporary) \(target)")
        return steps.joined(separator: " && ") + " || { rc=$?; rm -f \(temporary); exit $rc; }"
    }

    /// Single-quotes a word for sh: `it's` becomes `'it'\''s'`.
    static func shellQuote(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }

    static func parentDirectory(of path: String) -> String? {
        guard let slash = path.lastIndex(of: "/") else { return nil }
        let directory = String(path[..<slash])
        return directory.isEmpty ? nil : directory
    }
}
