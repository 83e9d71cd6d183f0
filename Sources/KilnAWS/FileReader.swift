import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads byte ranges of a file with pread, so concurrent readers share one descriptor and only
/// the ranges in flight are in memory.
public final class FileReader: @unchecked Sendable {
    public let path: String
    public let size: UInt64
    private let fd: Int32

    public init(path: String) throws {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        self.path = path
        self.size = UInt64(info.st_size)
    }

    deinit { close(fd) }

    /// Exactly `count` bytes at `offset`; throws if the file ends first.
    public func read(offset: UInt64, count: Int) throws -> Data {
        var data = Data(count: count)
        var filled = 0
        try data.withUnsafeMutableBytes { buffer in
            while filled < count {
                let got = pread(fd, buffer.baseAddress! + filled, count - filled, off_t(offset) + off_t(filled))
                if got < 0 {
                    if errno == EINTR { continue }
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
                if got == 0 { throw POSIXError(.EIO) }
                filled += got
            }
        }
        return data
    }
}
