import Foundation

/// Reads a raw disk image in fixed-size blocks, visiting only blocks that hold data: holes are
/// jumped over with SEEK_DATA/SEEK_HOLE, and blocks read as all zeros are reported as such so
/// the caller can skip them too.
final class SparseBlocks: @unchecked Sendable {
    let path: String
    let blockSize: Int
    let size: UInt64
    private let fd: Int32

    init(path: String, blockSize: Int) throws {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        self.path = path
        self.blockSize = blockSize
        self.size = UInt64(info.st_size)
    }

    deinit { close(fd) }

    // Linux's values; Glibc exports them only under _GNU_SOURCE, which Swift does not see.
    static let seekData: Int32 = 3
    static let seekHole: Int32 = 4

    var blockCount: Int { Int((size + UInt64(blockSize) - 1) / UInt64(blockSize)) }

    /// Indexes of the blocks overlapping data extents, in order. Falls back to every block
    /// when the filesystem cannot tell holes apart.
    func dataBlockIndexes() -> [Int] {
        dataBlockRanges().flatMap { $0 }
    }

    /// The same blocks as runs of consecutive indexes: a few entries however large the disk.
    func dataBlockRanges() -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var offset: off_t = 0
        let end = off_t(size)
        let block = off_t(blockSize)
        while offset < end {
            let dataStart = lseek(fd, offset, Self.seekData)
            if dataStart < 0 {
                if errno == ENXIO { break }              // only a hole is left
                return blockCount > 0 ? [0..<blockCount] : []   // SEEK_DATA unsupported here
            }
            var holeStart = lseek(fd, dataStart, Self.seekHole)
            if holeStart < 0 { holeStart = end }
            let first = Int(dataStart / block), last = Int((holeStart - 1) / block)
            let from = max(first, ranges.last?.upperBound ?? 0)
            if from <= last {
                if let previous = ranges.last, previous.upperBound == from {
                    ranges[ranges.count - 1] = previous.lowerBound..<last + 1
                } else {
                    ranges.append(from..<last + 1)
                }
            }
            offset = holeStart
        }
        return ranges
    }

    /// One whole block; the disk's last, short block is padded with zeros (EBS takes whole blocks only).
    func read(block index: Int) throws -> Data {
        var data = Data(count: blockSize)
        let offset = off_t(index) * off_t(blockSize)
        var filled = 0
        try data.withUnsafeMutableBytes { buffer in
            while filled < blockSize {
                let count = pread(fd, buffer.baseAddress! + filled, blockSize - filled, offset + off_t(filled))
                if count < 0 {
                    if errno == EINTR { continue }
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
                if count == 0 { break }
                filled += count
            }
        }
        return data
    }

    /// Raw bytes at `offset`, possibly fewer at the end of the file (for partition table checks).
    func bytes(at offset: UInt64, count: Int) throws -> [UInt8] {
        guard offset < size else { return [] }
        var bytes = [UInt8](repeating: 0, count: min(count, Int(size - offset)))
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(offset)) }
        guard got >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return Array(bytes.prefix(got))
    }

    static func isAllZero(_ data: Data) -> Bool {
        data.withUnsafeBytes { raw -> Bool in
            let words = raw.count / 8
            let wordPointer = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var index = 0
            // Unaligned loads: Data's storage is not guaranteed 8-byte aligned.
            while index < words {
                if raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) != 0 { return false }
                index += 1
            }
            for tail in (words * 8)..<raw.count where wordPointer[tail] != 0 { return false }
            return true
        }
    }
}
