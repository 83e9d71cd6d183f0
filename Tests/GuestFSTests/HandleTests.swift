import Foundation
import GuestFS
import Testing

private let integration = ProcessInfo.processInfo.environment["KILN_INTEGRATION"] == "1"

@Suite("GuestFS.Handle")
struct HandleTests {
    @Test("configuration calls work before launch; errors carry the message and errno")
    func configuration() async throws {
        let handle = try Handle(environment: false)
        let settings = try await handle.run { h in
            try h.setBackendSetting("force_tcg", "1")
            try h.setMemorySize(512)
            try h.setCPUs(1)
            return try h.backendSettings()
        }
        #expect(settings == ["force_tcg=1"])
        let error = await #expect(throws: GuestFSError.self) {
            try await handle.run { h in try h.addDrive("/nonexistent/kiln-disk.qcow2", format: "qcow2") }
        }
        #expect(error?.function == "add_drive_opts")
        #expect(error?.message.contains("/nonexistent/kiln-disk.qcow2") == true)
        let notLaunched = await #expect(throws: GuestFSError.self) {
            try await handle.run { h in try h.exists("/etc") }
        }
        #expect(notLaunched?.function == "exists")
    }

    /// One appliance launch (~15 s under TCG) exercising the wrapped calls on an ext4 disk made on the host.
    @Test("files, commands and filesystems on a launched appliance", .enabled(if: integration), .timeLimit(.minutes(5)))
    func launched() async throws {
        let directory = NSTemporaryDirectory() + "guestfs-test-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tree = directory + "/tree"
        try FileManager.default.createDirectory(atPath: tree + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: tree + "/bin/busybox")
        try FileManager.default.createSymbolicLink(atPath: tree + "/bin/sh", withDestinationPath: "busybox")
        try "hello\n".write(toFile: tree + "/greeting", atomically: false, encoding: .utf8)
        let disk = directory + "/disk.raw"
        try run("/usr/bin/truncate", ["-s", "64M", disk])
        try run("/usr/sbin/mke2fs", ["-q", "-F", "-t", "ext4", "-d", tree, disk])
        let hostFile = directory + "/upload.txt"
        try "uploaded\n".write(toFile: hostFile, atomically: false, encoding: .utf8)

        let handle = try Handle()
        let downloaded = directory + "/downloaded.txt"
        try await handle.run { h in
            try h.setBackendSetting("force_tcg", "1")
            try h.addDrive(disk, format: "raw", discard: .besteffort)
            try h.launch()
            let filesystems = try h.listFilesystems()
            #expect(filesystems.count == 1)
            #expect(filesystems.first?.type == "ext4")
            let device = try #require(filesystems.first?.device)
            #expect(try h.vfsType(device) == "ext4")
            #expect(try h.inspectOS().isEmpty)
            try h.mount(device, at: "/")

            #expect(try h.readText("/greeting") == "hello\n")
            #expect(try h.exists("/greeting") && h.isFile("/greeting") && !h.isDirectory("/greeting"))
            try h.mkdirP("/a/b/c")
            #expect(try h.isDirectory("/a/b/c"))
            try h.write("/a/b/c/file", text: "one\n")
            try h.append("/a/b/c/file", text: "two\n")
            #expect(try h.readFile("/a/b/c/file") == Array("one\ntwo\n".utf8))
            try h.write("/empty", text: "")
            #expect(try h.lstat("/empty").size == 0)
            try h.chmod(0o640, "/a/b/c/file")
            try h.chown(uid: 1000, gid: 1001, "/a/b/c/file")
            let status = try h.lstat("/a/b/c/file")
            #expect(status.permissions == 0o640 && status.uid == 1000 && status.gid == 1001 && status.size == 8)
            try h.symlink(target: "/greeting", at: "/link")
            #expect(try h.isSymlink("/link") && h.readlink("/link") == "/greeting")
            #expect(try h.globExpand("/a/b/*") == ["/a/b/c/"])
            #expect(try h.globExpand("/nothing-*").isEmpty)
            #expect(try h.ls("/a/b/c") == ["file"])
            // libguestfs 1.48 returns these with a leading slash; the API documents them relative.
            let found = try h.find("/a").map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 }
            #expect(found == ["b", "b/c", "b/c/file"], "\(found)")
            try h.truncate("/a/b/c/file")
            #expect(try h.lstat("/a/b/c/file").size == 0)
            try h.touch("/touched")
            try h.rm("/touched")
            try h.rmF("/touched")
            try h.rmRF("/a")
            #expect(try !h.exists("/a"))
            try h.mkdirP("/d")
            try h.rmdir("/d")

            try h.upload(hostFile, to: "/uploaded")
            try h.copyIn(hostFile, toDirectory: "/bin")
            #expect(try h.readText("/bin/upload.txt") == "uploaded\n")
            try h.download("/uploaded", to: downloaded)

            #expect(try h.sh("echo out; echo err >&2") == "out\n")
            #expect(try h.command(["/bin/busybox", "echo", "a b"]) == "a b\n")
            let failed = #expect(throws: GuestFSError.self) { try h.sh("echo broken >&2; exit 4") }
            #expect(failed?.function == "sh")
            #expect(failed?.message.contains("broken") == true)
            let missing = #expect(throws: GuestFSError.self) { try h.readFile("/missing") }
            #expect(missing?.errno == ENOENT)

            let usage = try h.statvfs("/")
            #expect(usage.blockSize > 0 && usage.blocks > usage.freeBlocks && usage.usedBytes > 0)
            try h.fstrim("/")
            try h.sync()
            try h.unmountAll()
            try h.shutdown()
        }
        #expect(try String(contentsOfFile: downloaded, encoding: .utf8) == "uploaded\n")
    }

    private func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw GuestFSError(function: executable, message: "exited with \(process.terminationStatus)")
        }
    }
}
