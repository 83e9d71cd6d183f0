import CGuestFS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files and directories in the mounted guest.
extension Handle {
    public func exists(_ path: String) throws -> Bool {
        try checkBool("exists", guestfs_exists(g, path))
    }

    /// True for a regular file (symbolic links are not followed).
    public func isFile(_ path: String) throws -> Bool {
        try checkBool("is_file", guestfs_is_file(g, path))
    }

    /// True for a directory (symbolic links are not followed).
    public func isDirectory(_ path: String) throws -> Bool {
        try checkBool("is_dir", guestfs_is_dir(g, path))
    }

    public func isSymlink(_ path: String) throws -> Bool {
        try checkBool("is_symlink", guestfs_is_symlink(g, path))
    }

    /// `guestfs_lstatns`.
    public func lstat(_ path: String) throws -> FileStatus {
        onQueue()
        guard let stat = guestfs_lstatns(g, path) else { throw lastError("lstatns") }
        defer { guestfs_free_statns(stat) }
        let s = stat.pointee
        return FileStatus(mode: Int(s.st_mode), uid: Int(s.st_uid), gid: Int(s.st_gid), size: s.st_size)
    }

    /// `guestfs_read_file`: the whole file (binary safe).
    public func readFile(_ path: String) throws -> [UInt8] {
        onQueue()
        var size = 0
        guard let content = guestfs_read_file(g, path, &size) else { throw lastError("read_file") }
        defer { free(content) }
        return content.withMemoryRebound(to: UInt8.self, capacity: size) { Array(UnsafeBufferPointer(start: $0, count: size)) }
    }

    /// `guestfs_read_file` decoded as UTF-8.
    public func readText(_ path: String) throws -> String {
        String(decoding: try readFile(path), as: UTF8.self)
    }

    /// `guestfs_write`: creates or replaces the file.
    public func write(_ path: String, _ content: [UInt8]) throws {
        let result = withBytes(content) { guestfs_write(g, path, $0, $1) }
        try check("write", result)
    }

    public func write(_ path: String, text: String) throws {
        try write(path, Array(text.utf8))
    }

    /// `guestfs_write_append`.
    public func append(_ path: String, text: String) throws {
        let result = withBytes(Array(text.utf8)) { guestfs_write_append(g, path, $0, $1) }
        try check("write_append", result)
    }

    public func mkdirP(_ path: String) throws {
        try check("mkdir_p", guestfs_mkdir_p(g, path))
    }

    public func chmod(_ mode: Int, _ path: String) throws {
        try check("chmod", guestfs_chmod(g, Int32(mode), path))
    }

    public func chown(uid: Int, gid: Int, _ path: String) throws {
        try check("chown", guestfs_chown(g, Int32(uid), Int32(gid), path))
    }

    public func touch(_ path: String) throws {
        try check("touch", guestfs_touch(g, path))
    }

    /// `guestfs_truncate`: to zero length.
    public func truncate(_ path: String) throws {
        try check("truncate", guestfs_truncate(g, path))
    }

    public func symlink(target: String, at linkName: String) throws {
        try check("ln_s", guestfs_ln_s(g, target, linkName))
    }

    public func readlink(_ path: String) throws -> String {
        try takeString("readlink", guestfs_readlink(g, path))
    }

    /// `guestfs_rm`: a file; fails when it does not exist.
    public func rm(_ path: String) throws {
        try check("rm", guestfs_rm(g, path))
    }

    /// `guestfs_rm_f`: a file, ignoring a missing one.
    public func rmF(_ path: String) throws {
        try check("rm_f", guestfs_rm_f(g, path))
    }

    /// `guestfs_rm_rf`: recursively, ignoring a missing path.
    public func rmRF(_ path: String) throws {
        try check("rm_rf", guestfs_rm_rf(g, path))
    }

    /// `guestfs_rmdir`: an empty directory.
    public func rmdir(_ path: String) throws {
        try check("rmdir", guestfs_rmdir(g, path))
    }

    /// `guestfs_glob_expand`: the paths matching a shell glob (none is not an error).
    public func globExpand(_ pattern: String) throws -> [String] {
        try takeStringList("glob_expand", guestfs_glob_expand(g, pattern))
    }

    /// `guestfs_ls`: the names in a directory, without "." and "..".
    public func ls(_ directory: String) throws -> [String] {
        try takeStringList("ls", guestfs_ls(g, directory))
    }

    /// `guestfs_find`: every path below `directory`, relative to it (libguestfs 1.48 starts each with `/`).
    public func find(_ directory: String) throws -> [String] {
        try takeStringList("find", guestfs_find(g, directory))
    }

    /// `guestfs_upload`: a host file to a guest file.
    public func upload(_ hostPath: String, to guestPath: String) throws {
        try check("upload", guestfs_upload(g, hostPath, guestPath))
    }

    /// `guestfs_copy_in`: a host file or directory (recursively) into a guest directory.
    public func copyIn(_ hostPath: String, toDirectory guestDirectory: String) throws {
        try check("copy_in", guestfs_copy_in(g, hostPath, guestDirectory))
    }

    /// `guestfs_download`: a guest file to a host file.
    public func download(_ guestPath: String, to hostPath: String) throws {
        try check("download", guestfs_download(g, guestPath, hostPath))
    }
}

/// What `lstat` reports.
public struct FileStatus: Sendable, Equatable {
    /// Type and permission bits, as st_mode.
    public var mode: Int
    public var uid: Int
    public var gid: Int
    public var size: Int64
    public var permissions: Int { mode & 0o7777 }
}

/// Passes bytes as a non-NULL `const char *` and a length (libguestfs rejects NULL even for empty content).
private func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>, Int) -> R) -> R {
    if bytes.isEmpty {
        var zero: CChar = 0
        return body(&zero, 0)
    }
    return bytes.withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!, $0.count) }
    }
}
