import Foundation
import Libvirt

/// A local file read for a sparse upload: data sections are read, holes (found with SEEK_DATA
/// and SEEK_HOLE) are skipped and travel as lengths. Called on the stream's thread only.
final class SparseFileSource: StreamSource, @unchecked Sendable {
    private let fd: Int32
    let path: String
    private(set) var bytesRead: UInt64 = 0

    init(path: String) throws {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SparseFileError(path: path, operation: "open", code: errno) }
        self.path = path
    }

    deinit { close(fd) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            let got = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if got >= 0 {
                bytesRead += UInt64(got)
                return got
            }
            if errno != EINTR { throw SparseFileError(path: path, operation: "read", code: errno) }
        }
    }

    func section() throws -> (inData: Bool, length: Int64) {
        let current = lseek(fd, 0, SEEK_CUR)
        guard current >= 0 else { throw SparseFileError(path: path, operation: "seek", code: errno) }
        defer { lseek(fd, current, SEEK_SET) }
        let data = lseek(fd, current, seekData)
        if data < 0 {
            // ENXIO: in the hole that ends the file, or at its end.
            guard errno == ENXIO else { throw SparseFileError(path: path, operation: "seek", code: errno) }
            let end = lseek(fd, 0, SEEK_END)
            guard end >= 0 else { throw SparseFileError(path: path, operation: "seek", code: errno) }
            return (false, Int64(end - current))
        }
        if data > current { return (false, Int64(data - current)) }
        let hole = lseek(fd, current, seekHole)
        guard hole >= 0 else { throw SparseFileError(path: path, operation: "seek", code: errno) }
        return (true, Int64(hole - current))
    }

    func skip(_ length: Int64) throws {
        guard lseek(fd, off_t(length), SEEK_CUR) >= 0 else { throw SparseFileError(path: path, operation: "seek", code: errno) }
    }
}

/// A local file written by a sparse download: data is written, holes are seeked over (and the
/// file extended over a trailing one), so the copy is as sparse as the original.
final class SparseFileSink: StreamSink, @unchecked Sendable {
    private let fd: Int32
    let path: String
    private(set) var bytesWritten: UInt64 = 0

    /// Creates (or truncates) `path`, mode 0600.
    init(path: String) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SparseFileError(path: path, operation: "create", code: errno) }
        self.path = path
    }

    deinit { close(fd) }

    func write(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        var done = 0
        while done < bytes.count {
            let wrote = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if wrote < 0 {
                if errno == EINTR { continue }
                throw SparseFileError(path: path, operation: "write", code: errno)
            }
            done += wrote
        }
        bytesWritten += UInt64(done)
        return done
    }

    func hole(_ length: Int64) throws {
        let end = lseek(fd, off_t(length), SEEK_CUR)
        guard end >= 0, ftruncate(fd, end) == 0 else { throw SparseFileError(path: path, operation: "extend", code: errno) }
    }

    /// Flushes to disk: the file replaces the work disk right after.
    func sync() throws {
        guard fsync(fd) == 0 else { throw SparseFileError(path: path, operation: "fsync", code: errno) }
    }
}

struct SparseFileError: Error, CustomStringConvertible {
    var path: String
    var operation: String
    var code: Int32
    var description: String { "cannot \(operation) \(path): \(String(cString: strerror(code)))" }
}

/// Linux's SEEK_DATA and SEEK_HOLE (Glibc declares them only under _GNU_SOURCE).
private let seekData: Int32 = 3
private let seekHole: Int32 = 4
