import Foundation
import KilnTemplate

/// Builds the command line that runs an uploaded provisioner script in the guest.
public enum ShellCommand {
    /// Single-quotes a word for a POSIX shell.
    public static func quote(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    public static func render(_ step: ShellStep, scriptPath: String) -> String {
        var parts: [String] = []
        for key in step.env.keys.sorted() {
            parts.append("export \(key)=\(quote(step.env[key]!))")
        }
        if let directory = step.workingDirectory {
            parts.append("cd \(quote(directory))")
        }
        let run = step.executeCommand.replacingOccurrences(of: "{{path}}", with: scriptPath)
        let body = (parts + [run]).joined(separator: " && ")
        // The script is removed whatever happens; the exit status is the script's.
        return "\(body); kiln_status=$?; rm -f \(quote(scriptPath)); exit $kiln_status"
    }
}

/// Which host files go where in the guest for one `file` provisioner (rsync's trailing-slash rule).
public struct FileUploadPlan: Sendable, Equatable {
    public var directories: [String]
    public var files: [(host: String, guest: String)]

    public static func == (a: FileUploadPlan, b: FileUploadPlan) -> Bool {
        a.directories == b.directories && a.files.map(\.host) == b.files.map(\.host) && a.files.map(\.guest) == b.files.map(\.guest)
    }

    public static func make(_ upload: FileUpload) throws -> FileUploadPlan {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: upload.source, isDirectory: &isDirectory) else {
            throw KilnError(.provisioner, "file to upload not found: \(upload.source)")
        }
        let destination = upload.destination
        guard isDirectory.boolValue else {
            let target = destination.hasSuffix("/")
                ? destination + (upload.source as NSString).lastPathComponent : destination
            let parent = (target as NSString).deletingLastPathComponent
            return FileUploadPlan(directories: parent.isEmpty ? [] : [parent], files: [(upload.source, target)])
        }
        let root = upload.source.hasSuffix("/")
            ? trimSlash(destination)
            : trimSlash(destination) + "/" + (trimSlash(upload.source) as NSString).lastPathComponent
        var directories = [root.isEmpty ? "/" : root]
        var files: [(String, String)] = []
        let base = trimSlash(upload.source)
        let realBase = realPath(base) ?? base
        let entries = (fm.enumerator(atPath: base)?.allObjects as? [String] ?? []).sorted()
        for relative in entries {
            let host = base + "/" + relative
            // A link is followed only inside the source: one leading out would copy other host files into the image.
            if (try? fm.destinationOfSymbolicLink(atPath: host)) != nil {
                guard let target = realPath(host) else {
                    throw KilnError(.provisioner, "cannot upload \(host): it is a symbolic link to nothing")
                }
                guard target == realBase || target.hasPrefix(realBase + "/") else {
                    throw KilnError(.provisioner, "refusing to upload \(host): it is a symbolic link to \(target), outside \(upload.source)",
                                    hint: "copy the file into the directory, or upload it with a file provisioner of its own")
                }
                var targetIsDirectory: ObjCBool = false
                if fm.fileExists(atPath: target, isDirectory: &targetIsDirectory), targetIsDirectory.boolValue {
                    throw KilnError(.provisioner, "cannot upload \(host): it is a symbolic link to the directory \(target), and links to directories are not followed",
                                    hint: "replace the link with the directory, or upload \(target) with a file provisioner of its own")
                }
            }
            var entryIsDirectory: ObjCBool = false
            fm.fileExists(atPath: host, isDirectory: &entryIsDirectory)
            if entryIsDirectory.boolValue {
                directories.append(root + "/" + relative)
            } else {
                files.append((host, root + "/" + relative))
            }
        }
        return FileUploadPlan(directories: directories, files: files)
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func trimSlash(_ path: String) -> String {
        var path = path
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path == "/" ? "" : path
    }
}
