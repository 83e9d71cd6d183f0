import Foundation

/// A new file written front to back in whole 512-byte sectors, through a 4 MiB buffer.
final class SectorFile {
    let path: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var flushed: UInt64 = 0
    private static let bufferSize = 4 << 20

    init(creating path: String) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(operation: "cannot create", path: path, code: errno) }
        self.path = path
        buffer.reserveCapacity(Self.bufferSize)
    }

    deinit { closeDescriptor() }

    /// The sector the next append starts at.
    var sector: UInt64 { (flushed + UInt64(buffer.count)) / UInt64(StreamOptimizedVMDK.sectorSize) }

    func append(_ bytes: [UInt8]) throws {
        precondition(bytes.count % StreamOptimizedVMDK.sectorSize == 0, "appends are whole sectors")
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.bufferSize { try flush() }
    }

    /// Zeros up to `target` (a sector number not behind the current one).
    func padToSector(_ target: UInt64) throws {
        precondition(target >= sector)
        try append([UInt8](repeating: 0, count: Int(target - sector) * StreamOptimizedVMDK.sectorSize))
    }

    /// Writes what is buffered and closes the file.
    func finish() throws {
        try flush()
        closeDescriptor()
    }

    /// Closes and removes the file (after a failure).
    func discard() {
        buffer.removeAll()
        closeDescriptor()
        unlink(path)
    }

    private func closeDescriptor() {
        if fd >= 0 { Foundation.close(fd) }
        fd = -1
    }

    struct Failure: Error, CustomStringConvertible {
        var operation: String
        var path: String
        var code: Int32
        var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
    }

    private func flush() throws {
        var written = 0
        try buffer.withUnsafeBytes { bytes in
            while written < bytes.count {
                let count = Foundation.write(fd, bytes.baseAddress! + written, bytes.count - written)
                if count < 0 {
                    if errno == EINTR { continue }
                    throw Failure(operation: "cannot write", path: path, code: errno)
                }
                written += count
            }
        }
        flushed += UInt64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }
}
