import CZlib
import Foundation
@testable import KilnDrivers

/// Reads a streamOptimized VMDK back the way an importer does (footer, directory, tables,
/// markers, inflate), checking the layout rules on the way. For tests of the writer.
struct StreamOptimizedVMDKReader {
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    let bytes: [UInt8]
    var capacitySectors: UInt64 = 0
    var descriptor = ""
    /// Grain index -> the sector of its marker.
    var grains: [Int: UInt64] = [:]
    var grainTables = 0

    init(path: String) throws {
        bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        try parse()
    }

    func u32(_ offset: Int) -> UInt32 { bytes[offset..<offset + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
    func u64(_ offset: Int) -> UInt64 { bytes[offset..<offset + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }

    private func require(_ condition: Bool, _ message: String) throws {
        if !condition { throw Problem(description: message) }
    }

    private mutating func parse() throws {
        let sector = 512
        try require(bytes.count % sector == 0 && bytes.count >= 4 * sector, "size \(bytes.count) is not whole sectors")
        try require(Array(bytes[0..<4]) == Array("KDMV".utf8), "bad magic")
        try require(u32(4) == 3 && u32(8) == 0x30001, "version \(u32(4)) flags \(String(u32(8), radix: 16))")
        try require(u64(56) == .max, "the header's gdOffset must be GD_AT_END")
        capacitySectors = u64(12)
        let descriptorStart = Int(u64(28)) * sector, descriptorSize = Int(u64(36)) * sector
        descriptor = String(decoding: bytes[descriptorStart..<descriptorStart + descriptorSize].prefix { $0 != 0 }, as: UTF8.self)
        // The stream ends with a footer marker, the footer and an end-of-stream marker.
        let end = bytes.count
        try require(u64(end - 1536) == 1 && u32(end - 1528) == 0 && u32(end - 1524) == 3, "no footer marker")
        try require(bytes[(end - 512)...].allSatisfy { $0 == 0 }, "no end-of-stream marker")
        let footer = end - 1024
        try require(Array(bytes[footer..<footer + 56]) == Array(bytes[0..<56]), "footer and header differ before gdOffset")
        try require(Array(bytes[footer + 64..<footer + 512]) == Array(bytes[64..<512]), "footer and header differ after gdOffset")
        let directory = Int(u64(footer + 56)) * sector
        let tableCount = (Int((capacitySectors + 127) / 128) + 511) / 512
        try require(u32(directory - 504) == 0 && u32(directory - 500) == 2, "no grain directory marker")
        for table in 0..<tableCount {
            let tableSector = Int(u32(directory + 4 * table))
            if tableSector == 0 { continue }
            grainTables += 1
            let start = tableSector * sector
            try require(u64(start - 512) == 4 && u32(start - 504) == 0 && u32(start - 500) == 1,
                        "no grain table marker before table \(table)")
            var entries: [UInt32] = []
            for entry in 0..<512 { entries.append(u32(start + 4 * entry)) }
            try require(entries.contains { $0 != 0 }, "grain table \(table) is empty")
            for (entry, grainSector) in entries.enumerated() where grainSector != 0 {
                let grain = table * 512 + entry
                let marker = Int(grainSector) * sector
                try require(u64(marker) == UInt64(grain) * 128, "grain \(grain)'s marker has LBA \(u64(marker))")
                // A zlib header: deflate with a 32 KiB window, and a check value that makes it a multiple of 31.
                let cmf = Int(bytes[marker + 12]), flg = Int(bytes[marker + 13])
                try require(cmf == 0x78 && (cmf << 8 | flg) % 31 == 0, "grain \(grain) is not a zlib stream")
                grains[grain] = UInt64(grainSector)
            }
        }
        let ordered = grains.sorted { $0.key < $1.key }.map(\.value)
        try require(ordered == ordered.sorted(), "grains are not in LBA order in the file")
        try require(ordered.first.map { $0 >= 128 } ?? true, "a grain starts inside the overhead")
    }

    /// The guest-visible bytes, `capacitySectors` x 512.
    func contents() throws -> [UInt8] {
        var image = [UInt8](repeating: 0, count: Int(capacitySectors) * 512)
        for (grain, sector) in grains {
            let marker = Int(sector) * 512
            let size = Int(u32(marker + 8))
            var inflated = [UInt8](repeating: 0, count: 65536)
            var length = uLongf(inflated.count)
            let status = bytes.withUnsafeBufferPointer { input in
                inflated.withUnsafeMutableBufferPointer { output in
                    uncompress(output.baseAddress, &length, input.baseAddress! + marker + 12, uLong(size))
                }
            }
            try require(status == Z_OK && length == 65536, "grain \(grain) inflates to \(length) bytes (status \(status))")
            let start = grain * 65536
            let count = min(65536, image.count - start)
            image.replaceSubrange(start..<start + count, with: inflated[0..<count])
            try require(inflated[count...].allSatisfy { $0 == 0 }, "grain \(grain) has data past the disk's end")
        }
        return image
    }
}
