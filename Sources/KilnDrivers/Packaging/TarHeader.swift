import KilnCore

/// One 512-byte POSIX ustar header for a regular file (pure).
enum TarHeader {
    static let blockSize = 512
    /// The largest size the 11 octal digits of a ustar size field hold (8 GiB - 1); larger sizes use
    /// the base-256 form GNU tar, bsdtar and VirtualBox's IPRT read.
    static let largestOctalSize: UInt64 = 0o77777777777

    static func make(name: String, size: UInt64, mtime: UInt64, mode: UInt32 = 0o644) throws -> [UInt8] {
        let nameBytes = Array(name.utf8)
        guard !nameBytes.isEmpty, nameBytes.count <= 100, !name.contains("/"), nameBytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw KilnError(.internal, "cannot store '\(name)' in a tar archive: member names are 1 to 100 printable ASCII characters without '/'")
        }
        var header = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: [UInt8], at offset: Int) {
            header.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        }
        func octal(_ value: UInt64, width: Int) -> [UInt8] {
            // width - 1 zero-padded digits and a NUL terminator
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(nameBytes, at: 0)
        put(octal(UInt64(mode), width: 8), at: 100)
        put(octal(0, width: 8), at: 108)              // uid
        put(octal(0, width: 8), at: 116)              // gid
        put(sizeField(size), at: 124)
        put(octal(min(mtime, largestOctalSize), width: 12), at: 136)
        put(Array(repeating: 0x20, count: 8), at: 148) // checksum counts as spaces while summing
        header[156] = UInt8(ascii: "0")               // regular file
        put(Array("ustar".utf8) + [0], at: 257)
        put(Array("00".utf8), at: 263)
        put(Array("root".utf8), at: 265)              // uname
        put(Array("root".utf8), at: 297)              // gname
        put(octal(0, width: 8), at: 329)              // devmajor
        put(octal(0, width: 8), at: 337)              // devminor
        let checksum = header.reduce(UInt64(0)) { $0 + UInt64($1) }
        put(octal(checksum, width: 7) + [0x20], at: 148)
        return header
    }

    /// 11 octal digits and a NUL, or 0x80 followed by the size in big-endian binary.
    static func sizeField(_ size: UInt64) -> [UInt8] {
        if size <= largestOctalSize {
            let digits = String(size, radix: 8)
            return Array((String(repeating: "0", count: 11 - digits.count) + digits).utf8) + [0]
        }
        var field = [UInt8](repeating: 0, count: 12)
        field[0] = 0x80
        for index in 0..<8 { field[4 + index] = UInt8(truncatingIfNeeded: size >> (8 * (7 - index))) }
        return field
    }

    /// Zero bytes that pad a member of `size` bytes to a whole block.
    static func padding(for size: UInt64) -> Int {
        let remainder = Int(size % UInt64(blockSize))
        return remainder == 0 ? 0 : blockSize - remainder
    }
}
