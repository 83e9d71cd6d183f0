import Foundation
import KilnCore

/// Checks before an appliance is launched on a disk, so mistakes fail fast and clearly.
enum DiskPreflight {
    /// Returns the disk's format (read from its content). The disk must be a writable file:
    /// Kiln works on its qcow2 overlay, never on a read-only base image.
    static func check(_ disk: String) async throws -> String {
        var status = stat()
        guard stat(disk, &status) == 0 else {
            throw KilnError(.offline, "disk not found: \(disk)")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw KilnError(.offline, "not a disk image file: \(disk)")
        }
        // Root passes access(W_OK) on any file, so the mode bits are checked too.
        guard status.st_mode & 0o222 != 0, access(disk, W_OK) == 0 else {
            throw KilnError(.offline, "disk is read-only: \(disk) (mode \(String(status.st_mode & 0o777, radix: 8)))",
                            hint: "offline steps write to the build's qcow2 overlay, never to a read-only base image")
        }
        do {
            let result = try await Subprocess.run(HostTools.path("qemu-img"), QemuImgArguments.info(path: disk, format: nil))
            return try QemuImg.parseInfo(result.stdout, path: disk).format
        } catch let failure as Subprocess.Failure {
            let reason = failure.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw KilnError(.offline, "qemu-img cannot read \(disk): \(reason)", cause: failure)
        }
    }

    /// The space the file takes on the host (allocated blocks, not its apparent size).
    static func allocatedBytes(_ path: String) -> UInt64? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return UInt64(status.st_blocks) * 512
    }
}
