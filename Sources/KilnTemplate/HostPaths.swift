import Foundation
import Yams

extension Decoding {
    enum HostFileKind { case file, directory, fileOrDirectory }

    /// An absolute, normalised host path: `~` is the user's home, relative paths start at the template.
    func absoluteHostPath(_ text: String) -> String {
        var path = text
        if path == "~" || path.hasPrefix("~/") {
            let home = options.environment["HOME"] ?? NSHomeDirectory()
            path = home + path.dropFirst()
        } else if !path.hasPrefix("/") {
            path = directory + "/" + path
        }
        var standardized = URL(fileURLWithPath: path).standardizedFileURL.path
        if text.hasSuffix("/"), !standardized.hasSuffix("/") { standardized += "/" }
        return standardized
    }

    /// The host path of a field, checked to exist (when files are checked) and noted for the content hash.
    func hostPath(_ node: Node, _ path: String, _ text: String, kind: HostFileKind, hashContents: Bool = true) -> String? {
        if text.isEmpty {
            report(node, path, "must not be empty")
            return nil
        }
        let absolute = absoluteHostPath(text)
        if hashContents { noteReferencedFile(absolute) } else { noteIdentifiedFile(absolute) }
        guard options.checkFiles else { return absolute }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
            report(node, path, "'\(text)' does not exist (looked for \(absolute))")
            return nil
        }
        switch (kind, isDirectory.boolValue) {
        case (.file, true):
            report(node, path, "'\(text)' is a directory; expected a file")
            return nil
        case (.directory, false):
            report(node, path, "'\(text)' is not a directory")
            return nil
        default:
            guard FileManager.default.isReadableFile(atPath: absolute) else {
                report(node, path, "'\(text)' is not readable")
                return nil
            }
            return absolute
        }
    }

    func hostPath(_ entry: Entry?, kind: HostFileKind, hashContents: Bool = true) -> String? {
        guard let entry, let text = string(entry) else { return nil }
        return hostPath(entry.value, entry.path, text, kind: kind, hashContents: hashContents)
    }

    /// An absolute guest path with no `..` component (no way out of where it is meant to go).
    func guestPath(_ node: Node, _ path: String, _ text: String) -> String? {
        guard text.hasPrefix("/") else {
            report(node, path, "'\(text)' must be an absolute path in the guest (starting with /)")
            return nil
        }
        if text.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            report(node, path, "'\(text)' must not contain '..' components")
            return nil
        }
        if text.contains("\0") {
            report(node, path, "must not contain NUL characters")
            return nil
        }
        return text
    }

    func guestPath(_ entry: Entry?) -> String? {
        guard let entry, let text = string(entry) else { return nil }
        return guestPath(entry.value, entry.path, text)
    }
}
