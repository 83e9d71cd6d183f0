import Foundation
import KilnCore

/// Checks a local base image: it exists, is readable, and is a disk image. The format comes
/// from the content (qemu-img), never from the name. The file is only read.
enum LocalImage {
    static let minimumRawSize: UInt64 = 1 << 20

    static func inspect(_ path: String) async throws -> DiskInfo {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw KilnError(.baseImage, "base image not found: \(path)")
        }
        guard !isDirectory.boolValue else { throw KilnError(.baseImage, "base image \(path) is a directory, not a disk image") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw KilnError(.baseImage, "base image \(path) is not readable", hint: "check its permissions")
        }
        let info = try await QemuImg.info(path)
        guard info.format == "raw" else { return info }
        if hasVHDFooter(path) { return try await QemuImg.info(path, format: "vpc") }
        try checkRawDisk(path, size: info.virtualSize)
        return info
    }

    /// Anything reads as "raw" in qemu-img: insist on a partition table (MBR or GPT).
    static func checkRawDisk(_ path: String, size: UInt64) throws {
        guard size >= minimumRawSize else {
            throw KilnError(.baseImage, "\(path) is not a disk image: it reads as raw and is only \(size) bytes",
                            hint: "a base image must be a bootable disk (qcow2, raw, vmdk, vdi, vhd, vhdx)")
        }
        guard let head = read(path, offset: 0, count: 1024), head.count == 1024 else {
            throw KilnError(.baseImage, "cannot read \(path)")
        }
        let mbr = head[510] == 0x55 && head[511] == 0xAA
        let gpt = head[512..<520].elementsEqual(Array("EFI PART".utf8))
        guard mbr || gpt else {
            throw KilnError(.baseImage, "\(path) is not a disk image: it reads as raw but has no MBR or GPT partition table",
                            hint: "a base image must be a bootable disk (qcow2, raw, vmdk, vdi, vhd, vhdx)")
        }
    }

    /// A fixed VHD is raw data with a 512-byte footer starting with "conectix".
    static func hasVHDFooter(_ path: String) -> Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = (attributes[.size] as? NSNumber)?.uint64Value, size >= 512,
              let footer = read(path, offset: size - 512, count: 8) else { return false }
        return footer.elementsEqual(Array("conectix".utf8))
    }

    private static func read(_ path: String, offset: UInt64, count: Int) -> [UInt8]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.read(upToCount: count) else { return nil }
        return Array(data)
    }
}
