import Foundation

// Pure edits of the guest's text files, kept apart from libguestfs so they are unit-tested.

/// A user's line in /etc/passwd.
struct PasswdEntry: Equatable {
    var name: String
    var uid: Int
    var gid: Int
    var home: String

    /// The entry for `user` in the text of an /etc/passwd file.
    static func find(_ user: String, in passwd: String) -> PasswdEntry? {
        for line in passwd.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 7, fields[0] == user,
                  let uid = Int(fields[2]), let gid = Int(fields[3]) else { continue }
            return PasswdEntry(name: user, uid: uid, gid: gid, home: String(fields[5]))
        }
        return nil
    }
}

/// The lines Kiln adds to authorized_keys carry the marker `kiln-seed` in their comment, and
/// `kiln-created-dir` / `kiln-created-file` when Kiln created the .ssh directory or the file,
/// so `finish` removes exactly what `prepare` added.
enum AuthorizedKeys {
    static let marker = "kiln-seed"
    static let createdDirectory = "kiln-created-dir"
    static let createdFile = "kiln-created-file"
    /// The comment the engine gives the build's key; lines carrying it are Kiln's too
    /// (systemd credentials seeding writes the key without the markers above).
    static let buildComment = "kiln-build"

    static func line(for key: String, createdDirectory: Bool, createdFile: Bool) -> String {
        var words = [key.trimmingCharacters(in: .whitespacesAndNewlines), marker]
        if createdDirectory { words.append(Self.createdDirectory) }
        if createdFile { words.append(Self.createdFile) }
        return words.joined(separator: " ")
    }

    /// `existing` with Kiln's line appended (on a line of its own).
    static func adding(_ line: String, to existing: String) -> String {
        var text = existing
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        return text + line + "\n"
    }

    struct Removal: Equatable {
        var text: String
        var removedLines: Int
        var createdDirectory: Bool
        var createdFile: Bool
        /// True when a removed line had no worker markers (it came from systemd credentials,
        /// which create the file and directory themselves).
        var removedUnmarkedLine: Bool
    }

    /// `existing` without Kiln's lines: those whose key blob is `key`'s, or whose comment has a Kiln marker.
    static func removing(key: String?, from existing: String) -> Removal {
        let keyBlob = key.flatMap(blob(of:))
        var removal = Removal(text: "", removedLines: 0, createdDirectory: false, createdFile: false,
                              removedUnmarkedLine: false)
        var kept: [Substring] = []
        for line in existing.split(separator: "\n", omittingEmptySubsequences: false) {
            let words = line.split(separator: " ").map(String.init)
            let comment = words.dropFirst(2)
            let isKiln = (keyBlob != nil && blob(of: String(line)) == keyBlob)
                || comment.contains(marker) || comment.contains(buildComment)
            guard isKiln else {
                kept.append(line)
                continue
            }
            removal.removedLines += 1
            if comment.contains(createdDirectory) { removal.createdDirectory = true }
            if comment.contains(createdFile) { removal.createdFile = true }
            if !comment.contains(marker) { removal.removedUnmarkedLine = true }
        }
        removal.text = kept.joined(separator: "\n")
        return removal
    }

    /// The base64 part of a key line (`type blob comment`), ignoring leading options is not needed:
    /// Kiln never writes options.
    static func blob(of line: String) -> String? {
        let words = line.split(separator: " ")
        return words.count >= 2 ? String(words[1]) : nil
    }
}

enum HostsFile {
    /// /etc/hosts with its `127.0.1.1` line naming `hostname` (added when missing).
    static func settingHostname(_ hostname: String, in existing: String?) -> String {
        guard let existing, !existing.isEmpty else {
            return "127.0.0.1\tlocalhost\n127.0.1.1\t\(hostname)\n"
        }
        var lines = existing.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let entry = "127.0.1.1\t\(hostname)"
        if let index = lines.firstIndex(where: { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).first == "127.0.1.1" }) {
            lines[index] = entry
        } else if let localhost = lines.firstIndex(where: { $0.hasPrefix("127.0.0.1") }) {
            lines.insert(entry, at: localhost + 1)
        } else {
            lines.append(entry)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

enum ShadowFile {
    /// The text of /etc/shadow (or /etc/passwd) with `user`'s password field set to `hash`.
    /// Returns nil when the user has no line.
    static func settingPassword(_ hash: String, for user: String, in existing: String) -> String? {
        var found = false
        let lines = existing.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 2, fields[0] == user else { return String(line) }
            found = true
            fields[1] = hash
            return fields.joined(separator: ":")
        }
        return found ? lines.joined(separator: "\n") : nil
    }
}
