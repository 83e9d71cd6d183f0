import Foundation
import KilnTemplate

/// What the first sectors of a raw disk say about how it boots: enough to refuse, before any
/// upload, an image AWS could never start.
struct DiskLayout: Sendable, Equatable {
    enum Scheme: String, Sendable { case mbr = "MBR", gpt = "GPT", none }
    var scheme: Scheme
    /// An EFI system partition (GPT type C12A7328-..., or MBR type 0xEF).
    var hasEFISystemPartition: Bool
    /// Boot code in the MBR's first 440 bytes (GRUB, SYSLINUX...), what legacy BIOS runs.
    var hasMBRBootCode: Bool

    static let sectorSize = 512
    /// On-disk (mixed-endian) bytes of the EFI system partition type GUID C12A7328-F81F-11D2-BA4B-00A0C93EC93B.
    static let espTypeGUID: [UInt8] = [0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B]

    /// Parses the MBR and, behind a protective MBR, the GPT header and entries.
    /// `read(offset, count)` returns the bytes at `offset` (short at the end of the disk).
    static func inspect(read: (UInt64, Int) throws -> [UInt8]) throws -> DiskLayout {
        let mbr = try read(0, sectorSize)
        guard mbr.count == sectorSize, mbr[510] == 0x55, mbr[511] == 0xAA else {
            return DiskLayout(scheme: .none, hasEFISystemPartition: false, hasMBRBootCode: false)
        }
        let bootCode = mbr[0..<440].contains { $0 != 0 }
        let types = (0..<4).map { mbr[446 + 16 * $0 + 4] }
        guard types.contains(0xEE) else {
            return DiskLayout(scheme: .mbr, hasEFISystemPartition: types.contains(0xEF), hasMBRBootCode: bootCode)
        }
        let header = try read(UInt64(sectorSize), 92)
        guard header.count == 92, Array(header[0..<8]) == Array("EFI PART".utf8) else {
            return DiskLayout(scheme: .mbr, hasEFISystemPartition: false, hasMBRBootCode: bootCode)
        }
        let entriesLBA = littleEndian(header, 72, 8)
        let count = min(Int(littleEndian(header, 80, 4)), 1024)
        let entrySize = Int(littleEndian(header, 84, 4))
        guard entrySize >= 128, entrySize <= 4096 else {
            return DiskLayout(scheme: .gpt, hasEFISystemPartition: false, hasMBRBootCode: bootCode)
        }
        let table = try read(entriesLBA * UInt64(sectorSize), count * entrySize)
        var esp = false
        for index in 0..<count where (index + 1) * entrySize <= table.count {
            let start = index * entrySize
            if Array(table[start..<start + 16]) == espTypeGUID { esp = true }
        }
        return DiskLayout(scheme: .gpt, hasEFISystemPartition: esp, hasMBRBootCode: bootCode)
    }

    static func littleEndian(_ bytes: [UInt8], _ offset: Int, _ count: Int) -> UInt64 {
        (0..<count).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
    }

    /// The boot mode to register, or why the disk cannot boot on EC2 as asked.
    func bootMode(requested: AMIBootMode?, architecture: AMIArchitecture) -> Result<AMIBootMode, BootProblem> {
        if scheme == .none {
            return .failure(BootProblem("the disk has no partition table (neither MBR nor GPT); EC2 boots only partitioned disks "
                + "with a boot loader (direct kernel boot images cannot be published)"))
        }
        let mode = requested ?? (hasEFISystemPartition || architecture == .arm64 ? .uefi : .legacyBIOS)
        switch mode {
        case .uefi where !hasEFISystemPartition:
            return .failure(BootProblem("boot mode uefi needs an EFI system partition, and this \(scheme.rawValue) disk has none"))
        case .legacyBIOS where architecture == .arm64:
            return .failure(BootProblem("arm64 instances boot only in uefi mode"))
        case .legacyBIOS where !hasMBRBootCode:
            return .failure(BootProblem("boot mode legacy-bios needs boot code in the MBR, and this \(scheme.rawValue) disk has none "
                + "(no GRUB or SYSLINUX installed to the disk)"))
        default:
            return .success(mode)
        }
    }

    struct BootProblem: Error, Equatable {
        var message: String
        init(_ message: String) { self.message = message }
    }
}
