/// The binary structures of a streamOptimized VMDK, as VMware's "Virtual Disk Format 5.0"
/// describes them (all little-endian, in 512-byte sectors):
///
/// ```
/// header (gdOffset = GD_AT_END) | embedded descriptor | padding to `overheadSectors`
/// grain marker + deflated grain, padded to a sector   (one per non-zero grain, in LBA order)
/// GT marker + grain table                              (after the grains it maps; none if empty)
/// ...
/// GD marker + grain directory | footer marker + footer (the header with the real gdOffset) | EOS marker
/// ```
///
/// Pure: values in, bytes out. The writer (`StreamOptimizedVMDKWriter`) decides what goes where.
enum StreamOptimizedVMDK {
    static let sectorSize = 512
    /// 128 sectors: 64 KiB grains, as VMware, VirtualBox and qemu write them.
    static let grainSectors: UInt64 = 128
    static let grainSize = Int(grainSectors) * sectorSize
    static let grainTableEntries = 512
    /// The embedded descriptor's room (10 KiB, what qemu and VMware reserve).
    static let descriptorSectors: UInt64 = 20
    /// Header and descriptor, rounded up to a grain: where the first grain marker goes.
    static let overheadSectors: UInt64 = 128
    /// gdOffset in the header of a stream: "read the footer".
    static let grainDirectoryAtEnd = UInt64.max
    /// A grain marker: the grain's first sector (8 bytes) and the compressed size (4 bytes).
    static let grainMarkerSize = 12

    /// Flags: valid newline test (bit 0), compressed grains (bit 16), markers (bit 17).
    static let flags: UInt32 = 1 | 1 << 16 | 1 << 17
    static let compressionDeflate: UInt16 = 1

    enum MarkerType: UInt32 {
        case endOfStream = 0
        case grainTable = 1
        case grainDirectory = 2
        case footer = 3
    }

    /// The SparseExtentHeader, also used as the footer.
    struct Header: Equatable {
        var capacitySectors: UInt64
        var grainDirectorySector: UInt64 = StreamOptimizedVMDK.grainDirectoryAtEnd

        func encoded() -> [UInt8] {
            var bytes = LittleEndianBytes()
            bytes.append(UInt32(0x564d_444b))               // "KDMV" on disk
            bytes.append(UInt32(3))                         // version 3: streamOptimized
            bytes.append(StreamOptimizedVMDK.flags)
            bytes.append(capacitySectors)
            bytes.append(StreamOptimizedVMDK.grainSectors)
            bytes.append(UInt64(1))                         // descriptorOffset
            bytes.append(StreamOptimizedVMDK.descriptorSectors)
            bytes.append(UInt32(StreamOptimizedVMDK.grainTableEntries))
            bytes.append(UInt64(0))                         // rgdOffset: no redundant directory in a stream
            bytes.append(grainDirectorySector)
            bytes.append(StreamOptimizedVMDK.overheadSectors)
            bytes.append(UInt8(0))                          // uncleanShutdown
            bytes.append(contentsOf: [0x0a, 0x20, 0x0d, 0x0a]) // "\n", " ", "\r\n": detects text-mode transfers
            bytes.append(StreamOptimizedVMDK.compressionDeflate)
            return bytes.padded(to: StreamOptimizedVMDK.sectorSize)
        }
    }

    /// A metadata marker: one sector, `sectors` = the size of the metadata that follows.
    static func marker(_ type: MarkerType, sectors: UInt64) -> [UInt8] {
        var bytes = LittleEndianBytes()
        bytes.append(sectors)
        bytes.append(UInt32(0))                             // size 0: a metadata marker, not a grain
        bytes.append(type.rawValue)
        return bytes.padded(to: sectorSize)
    }

    /// The 12 bytes before a compressed grain.
    static func grainMarker(lba: UInt64, compressedSize: UInt32) -> [UInt8] {
        var bytes = LittleEndianBytes()
        bytes.append(lba)
        bytes.append(compressedSize)
        return bytes.bytes
    }

    /// One grain table (512 entries: each grain's marker sector, 0 for a grain never written).
    static func grainTable(_ entries: [UInt32]) -> [UInt8] {
        precondition(entries.count == grainTableEntries)
        var bytes = LittleEndianBytes()
        for entry in entries { bytes.append(entry) }
        return bytes.bytes
    }

    /// The grain directory (each grain table's sector, 0 for a table never written), padded to sectors.
    static func grainDirectory(_ entries: [UInt32]) -> [UInt8] {
        var bytes = LittleEndianBytes()
        for entry in entries { bytes.append(entry) }
        return bytes.padded(to: sectors(forBytes: entries.count * 4) * sectorSize)
    }

    /// The grains that cover `capacitySectors` (the last one may reach past the end).
    static func grainCount(capacitySectors: UInt64) -> Int {
        Int((capacitySectors + grainSectors - 1) / grainSectors)
    }

    static func grainTableCount(capacitySectors: UInt64) -> Int {
        (grainCount(capacitySectors: capacitySectors) + grainTableEntries - 1) / grainTableEntries
    }

    static func grainTableSectors() -> UInt64 { UInt64(grainTableEntries * 4 / sectorSize) }

    static func sectors(forBytes count: Int) -> Int { (count + sectorSize - 1) / sectorSize }
}

/// Appends little-endian integers.
struct LittleEndianBytes {
    private(set) var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(contentsOf other: [UInt8]) { bytes.append(contentsOf: other) }

    func padded(to size: Int) -> [UInt8] {
        precondition(bytes.count <= size)
        return bytes + [UInt8](repeating: 0, count: size - bytes.count)
    }
}
