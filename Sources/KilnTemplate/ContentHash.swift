import Crypto
import Foundation

/// SHA-256 over everything a build's result depends on in the template: its bytes, the variables'
/// values, and the contents of the host files it references (directories walked in sorted order).
/// Disk images and SSH private keys are identified by path, size and modification time instead:
/// hashing gigabytes on every run would cost more than it saves, and a key says nothing of the image.
struct ContentHash {
    fileprivate var hasher = SHA256()

    static func compute(template: [UInt8], variables: [String: String], files: Set<String>, identifiedOnly: Set<String>) -> String {
        var hash = ContentHash()
        hash.add(Array("kiln-template-v1".utf8))
        hash.add(template)
        for name in variables.keys.sorted() {
            hash.add(Array(name.utf8))
            hash.add(Array(variables[name]!.utf8))
        }
        for path in files.sorted() { hash.addTree(at: path) }
        for path in identifiedOnly.sorted() { hash.addIdentity(of: path) }
        return hash.hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// A length-prefixed chunk, so that no two different sequences of chunks hash alike.
    private mutating func add(_ bytes: [UInt8]) {
        hasher.update(data: Array(String(bytes.count).utf8) + [0x3A])
        hasher.update(data: bytes)
    }

    fileprivate mutating func addTree(at path: String) {
        add(Array(path.utf8))
        let manager = FileManager.default
        if let target = try? manager.destinationOfSymbolicLink(atPath: path) {
            add(Array("symlink".utf8))
            add(Array(target.utf8))
            // Follow it as well: a link to a directory is uploaded as the directory.
        }
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else {
            add(Array("missing".utf8))
            return
        }
        guard isDirectory.boolValue else {
            addContents(of: path)
            return
        }
        add(Array("directory".utf8))
        let entries = (manager.enumerator(atPath: path)?.allObjects as? [String] ?? []).sorted()
        for relative in entries {
            let full = path.hasSuffix("/") ? path + relative : path + "/" + relative
            add(Array(relative.utf8))
            var entryIsDirectory: ObjCBool = false
            if let target = try? manager.destinationOfSymbolicLink(atPath: full) {
                add(Array("symlink".utf8))
                add(Array(target.utf8))
            } else if manager.fileExists(atPath: full, isDirectory: &entryIsDirectory), !entryIsDirectory.boolValue {
                addContents(of: full)
            }
        }
    }

    private mutating func addContents(of path: String) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            add(Array("unreadable".utf8))
            return
        }
        defer { try? handle.close() }
        var total = 0
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            total += chunk.count
        }
        add(Array("end \(total)".utf8))
    }

    fileprivate mutating func addIdentity(of path: String) {
        add(Array(path.utf8))
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
        let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        add(Array("\(size) \(modified)".utf8))
    }
}

/// Digests of host files for the step cache's keys.
public enum HostFileDigest {
    /// SHA-256 (hex) over a file's contents, or a directory's sorted names, contents and symlinks.
    public static func tree(_ path: String) -> String {
        var hash = ContentHash()
        hash.addTree(at: path)
        return hash.hex
    }

    /// SHA-256 (hex) over a file's path, size and modification time: for disk images too big to read.
    public static func identity(_ path: String) -> String {
        var hash = ContentHash()
        hash.addIdentity(of: path)
        return hash.hex
    }
}

extension ContentHash {
    fileprivate var hex: String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }
}
