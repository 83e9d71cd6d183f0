import Foundation
import KilnCore

/// Turns a root tree into a bootable qcow2: ext4 made with `mke2fs -d` (no mount), one MBR
/// partition from 1 MiB, the bootloader, then qcow2. All work files stay in `workDirectory`.
struct DiskAssembler: Sendable {
    static let partitionStartSector: UInt64 = 2048

    var rootfs: String
    var workDirectory: String
    var size: UInt64
    var bootloader: BootloaderKind

    enum BootloaderKind: Sendable {
        case grub
        case extlinux
    }

    /// Writes `output` (qcow2).
    func assemble(to output: String, onLine: @escaping @Sendable (String) -> Void) async throws {
        let partition = workDirectory + "/part.raw", disk = workDirectory + "/disk.raw"
        defer {
            try? FileManager.default.removeItem(atPath: partition)
            try? FileManager.default.removeItem(atPath: disk)
        }
        let partitionBytes = size - Self.partitionStartSector * 512
        // ^64bit: extlinux cannot boot from a 64bit ext4; GRUB does not care.
        try await run("mke2fs", ["-q", "-F", "-t", "ext4", "-O", "^64bit", "-L", "root", "-d", rootfs,
                                 partition, "\(partitionBytes / 1024)k"], onLine)
        guard FileManager.default.createFile(atPath: disk, contents: nil), truncate(disk, off_t(size)) == 0 else {
            throw KilnError(.baseImage, "cannot create \(disk)")
        }
        try await run("sfdisk", ["-q", disk], stdin: "label: dos\nstart=\(Self.partitionStartSector), type=83, bootable\n", onLine)
        try await run("dd", ["if=\(partition)", "of=\(disk)", "bs=1M", "seek=1", "conv=sparse,notrunc", "status=none"], onLine)
        try? FileManager.default.removeItem(atPath: partition)
        switch bootloader {
        case .grub:
            try await GrubBIOSBoot.install(disk: disk, workDirectory: workDirectory, firstPartitionSector: Self.partitionStartSector)
        case .extlinux:
            try await ExtlinuxBoot.install(disk: disk, workDirectory: workDirectory,
                                           partitionOffset: Self.partitionStartSector * 512, onLine: onLine)
        }
        try await run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", disk, output], onLine)
    }

    private func run(_ tool: String, _ arguments: [String], stdin: String? = nil,
                     _ onLine: @escaping @Sendable (String) -> Void) async throws {
        do {
            try await Subprocess.run(tool, arguments, stdin: stdin.map { Data($0.utf8) },
                                     onStdoutLine: onLine, onStderrLine: onLine)
        } catch let failure as Subprocess.Failure {
            throw KilnError(.baseImage, "making the bootstrap disk failed: \(failure)", cause: failure)
        }
    }
}

/// extlinux must write into a mounted filesystem: loop-mounts the partition for the install.
enum ExtlinuxBoot {
    static let mbr = "/usr/lib/EXTLINUX/mbr.bin"

    static func install(disk: String, workDirectory: String, partitionOffset: UInt64,
                        onLine: @escaping @Sendable (String) -> Void) async throws {
        guard let mbrCode = FileManager.default.contents(atPath: mbr), mbrCode.count >= 440 else {
            throw KilnError(.baseImage, "extlinux's \(mbr) is missing", hint: "apt-get install extlinux")
        }
        let mountPoint = workDirectory + "/mnt"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        do {
            try await Subprocess.run("mount", ["-o", "loop,offset=\(partitionOffset)", disk, mountPoint])
        } catch {
            throw KilnError(.baseImage, "extlinux needs a loop mount, and mounting failed: \(error)",
                            hint: "run as root with loop devices, or use bootloader: grub (no mount needed)")
        }
        var installError: (any Error)?
        do {
            try await Subprocess.run("extlinux", ["--install", mountPoint + "/boot/extlinux"],
                                     onStdoutLine: onLine, onStderrLine: onLine)
        } catch { installError = error }
        // Unmount even when cancelled: a detached task is not cancelled with us.
        _ = try await Task.detached { try await Subprocess.run("umount", ["-d", mountPoint]) }.value
        if let installError { throw KilnError.wrap(installError, as: .baseImage, "extlinux --install failed") }
        guard let handle = FileHandle(forUpdatingAtPath: disk) else { throw KilnError(.baseImage, "cannot open \(disk)") }
        defer { try? handle.close() }
        try handle.write(contentsOf: mbrCode.prefix(440))
    }
}
