import Foundation
import KilnCore

/// Installs GRUB for BIOS on a raw MBR disk image without mounting anything, as grub-bios-setup
/// does: boot.img in the first 440 bytes of sector 0 (the partition table is kept), core.img
/// embedded from sector 1 in the gap before the first partition. core.img finds its modules and
/// grub.cfg under `(hd0,msdos1)/boot/grub`, which the caller puts into the root tree beforehand.
enum GrubBIOSBoot {
    static let platformDirectory = "/usr/lib/grub/i386-pc"
    static let prefix = "(hd0,msdos1)/boot/grub"
    static let coreModules = ["biosdisk", "part_msdos", "ext2"]
    static let coreSector: UInt64 = 1

    // Offsets in GRUB's boot.img (include/grub/i386/pc/boot.h).
    static let bpbRange = 0x03..<0x5A
    static let kernelSectorOffset = 0x5C
    static let bootDriveOffset = 0x64
    static let driveCheckOffset = 0x66
    static let partitionTableRange = 0x1B8..<0x1FE

    static func mkimageArguments(output: String) -> [String] {
        ["-O", "i386-pc", "-d", platformDirectory, "-p", prefix, "-o", output] + coreModules
    }

    /// Sector 0: GRUB's boot code with the existing sector's BPB area and partition table.
    static func bootSector(bootImage: [UInt8], existing: [UInt8]) -> [UInt8] {
        precondition(bootImage.count == 512 && existing.count == 512)
        var sector = bootImage
        sector.replaceSubrange(bpbRange, with: existing[bpbRange])
        sector.replaceSubrange(partitionTableRange, with: existing[partitionTableRange])
        withUnsafeBytes(of: coreSector.littleEndian) { sector.replaceSubrange(kernelSectorOffset..<kernelSectorOffset + 8, with: $0) }
        sector[bootDriveOffset] = 0xFF          // use the drive the BIOS booted from
        sector[driveCheckOffset] = 0x90         // a hard disk: no floppy probing (two NOPs over the jump)
        sector[driveCheckOffset + 1] = 0x90
        sector[510] = 0x55
        sector[511] = 0xAA
        return sector
    }

    /// Files to copy into `<root>/boot/grub/i386-pc` so that core.img can load modules at boot.
    static func moduleFiles() throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: platformDirectory)
        return names.filter { $0.hasSuffix(".mod") || $0.hasSuffix(".lst") }.sorted()
    }

    static func copyModules(intoRoot root: String) throws {
        let target = root + "/boot/grub/i386-pc"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        for name in try moduleFiles() {
            try FileManager.default.copyItem(atPath: platformDirectory + "/" + name, toPath: target + "/" + name)
        }
    }

    /// Writes boot.img and a freshly made core.img into `disk` (raw, already partitioned).
    /// `firstPartitionSector` bounds the embedding area.
    static func install(disk: String, workDirectory: String, firstPartitionSector: UInt64) async throws {
        guard FileManager.default.fileExists(atPath: platformDirectory + "/boot.img") else {
            throw KilnError(.baseImage, "GRUB for BIOS is not installed (\(platformDirectory) is missing)",
                            hint: "apt-get install grub-pc-bin")
        }
        let core = workDirectory + "/core.img"
        defer { try? FileManager.default.removeItem(atPath: core) }
        try await Subprocess.run("grub-mkimage", mkimageArguments(output: core))
        guard let coreImage = FileManager.default.contents(atPath: core),
              let bootImage = FileManager.default.contents(atPath: platformDirectory + "/boot.img"), bootImage.count == 512
        else { throw KilnError(.baseImage, "cannot read GRUB's boot.img or core.img") }
        let coreSectors = (UInt64(coreImage.count) + 511) / 512
        guard coreSector + coreSectors <= firstPartitionSector else {
            throw KilnError(.baseImage, "GRUB's core.img (\(coreImage.count) bytes) does not fit before the first partition")
        }
        guard let handle = FileHandle(forUpdatingAtPath: disk) else { throw KilnError(.baseImage, "cannot open \(disk)") }
        defer { try? handle.close() }
        let existing = try handle.read(upToCount: 512) ?? Data()
        guard existing.count == 512 else { throw KilnError(.baseImage, "\(disk) is too small for a boot sector") }
        try handle.seek(toOffset: 0)
        try handle.write(contentsOf: Data(bootSector(bootImage: Array(bootImage), existing: Array(existing))))
        try handle.seek(toOffset: coreSector * 512)
        try handle.write(contentsOf: coreImage)
    }
}
