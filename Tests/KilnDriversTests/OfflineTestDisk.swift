import Foundation
@testable import KilnDrivers

/// Small disks for the libguestfs tests, made on the host in a second or two: a Debian-looking
/// system (busybox for /bin/sh, os-release, fstab, passwd, a dpkg status with two packages)
/// on an ext4 partition of an MBR disk, or a blank ext4 filesystem with no OS.
struct OfflineTestDisk {
    /// A fresh temporary directory, removed by `remove()`.
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "kiln-offline-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Files of the guest, by absolute guest path. Directories are created as needed.
    static let systemFiles: [String: String] = [
        "/etc/os-release": """
            PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
            NAME="Debian GNU/Linux"
            VERSION_ID="12"
            VERSION="12 (bookworm)"
            ID=debian

            """,
        "/etc/debian_version": "12.8\n",
        "/etc/fstab": "LABEL=root / ext4 defaults 0 1\n",
        "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nkiln:x:1000:1000:Kiln:/home/kiln:/bin/sh\n",
        "/etc/shadow": "root:*:19000:0:99999:7:::\nkiln:!:19000:0:99999:7:::\n",
        "/etc/hostname": "tinyhost\n",
        "/etc/hosts": "127.0.0.1\tlocalhost\n127.0.1.1\ttinyhost\n",
        "/var/lib/dpkg/status": """
            Package: busybox-static
            Status: install ok installed
            Architecture: amd64
            Version: 1:1.35.0-4

            Package: base-files
            Status: install ok installed
            Architecture: amd64
            Version: 12.4


            """,
    ]

    static let busyboxApplets = ["sh", "ls", "cat", "rm", "mkdir", "chmod", "echo", "dd", "sync", "test", "cp", "mv", "sleep"]

    /// Builds the tree at `root` from `files` plus the base system, then a qcow2 disk from it.
    func makeOSDisk(named name: String = "os", extraFiles: [String: String] = [:],
                    sizeMiB: Int = 128) async throws -> String {
        let root = "\(directory)/\(name)-tree"
        let fm = FileManager.default
        for (path, content) in Self.systemFiles.merging(extraFiles, uniquingKeysWith: { _, new in new }) {
            let hostPath = root + path
            try fm.createDirectory(atPath: (hostPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try content.write(toFile: hostPath, atomically: false, encoding: .utf8)
        }
        for dir in ["/bin", "/tmp", "/var/tmp", "/root", "/home/kiln", "/proc", "/sys", "/dev"] {
            try fm.createDirectory(atPath: root + dir, withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: "/bin/busybox", toPath: "\(root)/bin/busybox")
        for applet in Self.busyboxApplets {
            try fm.createSymbolicLink(atPath: "\(root)/bin/\(applet)", withDestinationPath: "busybox")
        }
        let raw = "\(directory)/\(name).raw"
        try await makePartitionedExt4(raw, from: root, sizeMiB: sizeMiB)
        let qcow2 = "\(directory)/\(name).qcow2"
        try await Subprocess.run(HostTools.path("qemu-img"), ["convert", "-f", "raw", "-O", "qcow2", raw, qcow2])
        try fm.removeItem(atPath: raw)
        try fm.removeItem(atPath: root)
        return qcow2
    }

    /// An ext4 filesystem with one file and no operating system, as a raw disk.
    func makeBlankDisk(named name: String = "blank") async throws -> String {
        let root = "\(directory)/\(name)-tree"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try "just data\n".write(toFile: "\(root)/data.txt", atomically: false, encoding: .utf8)
        let raw = "\(directory)/\(name).raw"
        try await makePartitionedExt4(raw, from: root, sizeMiB: 32)
        return raw
    }

    /// A qcow2 overlay on `base`.
    func makeOverlay(on base: String, named name: String) async throws -> String {
        let path = "\(directory)/\(name).qcow2"
        try await Subprocess.run(HostTools.path("qemu-img"), QemuImgArguments.createOverlay(path: path, base: base, baseFormat: "qcow2", size: nil))
        return path
    }

    private func makePartitionedExt4(_ raw: String, from root: String, sizeMiB: Int) async throws {
        _ = FileManager.default.createFile(atPath: raw, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: raw))
        try handle.truncate(atOffset: UInt64(sizeMiB) << 20)
        try handle.close()
        try await Subprocess.run(HostTools.path("sfdisk"), ["-q", raw], stdin: Data("start=2048, type=83\n".utf8))
        try await Subprocess.run(HostTools.path("mke2fs"), ["-q", "-F", "-t", "ext4", "-L", "root", "-d", root,
                                            "-E", "offset=1048576", raw, "\(sizeMiB - 1)M"])
    }

    static func sha256(_ path: String) async throws -> String {
        let result = try await Subprocess.run(HostTools.path("sha256sum"), [path])
        return String(result.stdoutText.prefix(64))
    }
}
