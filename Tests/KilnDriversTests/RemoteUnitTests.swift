import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import KilnCore
@testable import KilnDrivers
@testable import KilnTemplate

@Suite struct LibvirtURITests {
    @Test(arguments: [
        ("qemu:///system", false, true),
        ("qemu:///session", false, true),
        ("qemu+unix:///system?socket=/run/x.sock", false, true),
        ("qemu+tcp://127.0.0.1:16509/system", true, true),
        ("qemu+tcp://localhost/system", true, true),
        ("qemu+ssh://root@[::1]:2222/system", true, true),
        ("qemu+ssh://builder@kvm01.example.org/system", true, false),
        ("qemu+tls://kvm02/system", true, false),
        ("qemu://kvm03/system", true, false),
        ("qemu+libssh2://u@10.1.2.3/system?known_hosts=/k", true, false),
    ])
    func decidesRemoteAndLoopback(uri: String, remote: Bool, loopback: Bool) throws {
        let parsed = try #require(LibvirtURI(uri))
        #expect(parsed.isRemote == remote, "\(uri)")
        #expect(parsed.isLoopbackHost == loopback, "\(uri)")
    }

    @Test func readsEveryPart() throws {
        let uri = try #require(LibvirtURI("qemu+ssh://builder@kvm01.example.org:2222/system?keyfile=/k"))
        #expect(uri.driver == "qemu" && uri.transport == "ssh" && uri.user == "builder")
        #expect(uri.host == "kvm01.example.org" && uri.port == 2222 && uri.path == "/system")
        let v6 = try #require(LibvirtURI("qemu+tcp://[fe80::1]:16509/system"))
        #expect(v6.host == "fe80::1" && v6.port == 16509)
        #expect(LibvirtURI("qemu+tcp://127.0.0.1/system")?.hostDescription == "127.0.0.1")
        #expect(LibvirtURI("qemu:///system")?.hostDescription == "this machine")
        #expect(LibvirtURI("not a uri") == nil)
        #expect(LibvirtURI("://x") == nil)
    }

    @Test func aNonLoopbackHostIsRefusedBeforeAnythingIsMade() throws {
        let uri = try #require(LibvirtURI("qemu+ssh://builder@kvm01.example.org/system"))
        let error = #expect(throws: KilnError.self) {
            try LibvirtHypervisor.checkGuestReachable(uri, uri: "qemu+ssh://builder@kvm01.example.org/system")
        }
        #expect(error?.message.contains("127.0.0.1 of that host only") == true)
        #expect(error?.hint?.contains("kvm01.example.org") == true)
        try LibvirtHypervisor.checkGuestReachable(try #require(LibvirtURI("qemu+tcp://127.0.0.1:1/system")), uri: "")
    }
}

/// Pool and volume XML and the remote-owned domain, byte for byte with Golden/*.xml
/// (`KILN_UPDATE_GOLDEN=1` rewrites them).
@Suite struct RemoteXMLTests {
    func expectGolden(_ rendered: String, _ file: String) throws {
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/\(file)")
        if ProcessInfo.processInfo.environment["KILN_UPDATE_GOLDEN"] == "1" {
            try rendered.write(to: golden, atomically: true, encoding: .utf8)
        }
        #expect(rendered == (try String(contentsOf: golden, encoding: .utf8)), "differs from \(golden.path)")
        _ = try XMLDocument(xmlString: rendered)
    }

    @Test func poolAndVolume() throws {
        try expectGolden(StorageXML.pool(name: "kiln-tiny-0a1b2c3d", path: "/var/lib/libvirt/images/kiln-tiny-0a1b2c3d"),
                         "pool-dir.xml")
        try expectGolden(StorageXML.volume(name: "disk.qcow2"), "volume-empty.xml")
        #expect(StorageXML.volume(name: "a&b").contains("<name>a&amp;b</name>"))
    }

    @Test func aRemoteDomainRecordsItsOwnersMachine() throws {
        let config = VMConfig(
            name: "kiln-tiny-0a1b2c3d", cpus: 1, memoryMiB: 256, accelerator: .tcg, firmware: .bios,
            diskPath: "/var/lib/libvirt/images/kiln-tiny-0a1b2c3d/disk.qcow2",
            consoleLogPath: "/var/lib/libvirt/images/kiln-tiny-0a1b2c3d/console.log",
            kernelBoot: KernelBoot(kernel: "/var/lib/libvirt/images/kiln-tiny-0a1b2c3d/kernel",
                                   initrd: "/var/lib/libvirt/images/kiln-tiny-0a1b2c3d/initrd", cmdline: "console=ttyS0"),
            ownerPID: 4242, workDirectory: "/var/lib/libvirt/images/kiln-tiny-0a1b2c3d")
        let xml = DomainXML.render(config, ownerHost: "3d1219c7c4c5404aaa1f6d2a48adfda4")
        try expectGolden(xml, "domain-remote.xml")
        let start = try #require(xml.range(of: "<kiln:build"))
        let end = try #require(xml.range(of: "</kiln:build>"))
        let metadata = BuildMetadata.parse(String(xml[start.lowerBound..<end.upperBound]))
        #expect(metadata == BuildMetadata(ownerPID: 4242, workDirectory: config.workDirectory,
                                          ownerHost: "3d1219c7c4c5404aaa1f6d2a48adfda4"))
        #expect(!DomainXML.render(config).contains("<kiln:host>"), "local domains keep their old metadata")
    }

    @Test func ownerRecordsRoundTripAndJudgeOnlyThisMachine() throws {
        let mine = RemoteOwner.current(domain: "kiln-x-1")
        #expect(RemoteOwner.decode(try mine.encoded()) == mine)
        #expect(!mine.isDeadOwner)
        var dead = mine
        dead.pid = Int32.max - 1
        #expect(dead.isDeadOwner)
        var elsewhere = dead
        elsewhere.host = "another-machine"
        #expect(!elsewhere.isDeadOwner, "an owner on another machine is never judged from here")
        #expect(RemoteOwner.decode(Data("{}".utf8)) == nil)
    }
}

@Suite struct RemoteAcceleratorTests {
    @Test func followsWhatTheRemoteLibvirtOffers() throws {
        #expect(try AcceleratorProbe.chooseRemote(.auto, host: "h", offersKVM: true).0 == .kvm)
        #expect(try AcceleratorProbe.chooseRemote(.auto, host: "h", offersKVM: false).0 == .tcg)
        #expect(try AcceleratorProbe.chooseRemote(.tcg, host: "h", offersKVM: true).0 == .tcg)
        #expect(throws: KilnError.self) { try AcceleratorProbe.chooseRemote(.kvm, host: "h", offersKVM: false) }
        #expect(AcceleratorProbe.capabilitiesOfferKVM("<guest><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>"))
        #expect(!AcceleratorProbe.capabilitiesOfferKVM("<guest><arch name='x86_64'><domain type='qemu'/></arch></guest>"))
    }
}

/// The sparse file source and sink used for uploads and downloads, on local files.
@Suite struct SparseFileTests {
    func temporaryPath() -> String { "/var/tmp/kiln-sparse-test-\(UUID().uuidString.prefix(8))" }

    /// 4 MiB: data at 0 and at 2 MiB (64 KiB each), holes between and at the end.
    func makeSparseFile(_ path: String) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.write(contentsOf: Data(repeating: 0xAB, count: 65536))
        try handle.seek(toOffset: 2 << 20)
        try handle.write(contentsOf: Data(repeating: 0xCD, count: 65536))
        try handle.truncate(atOffset: 4 << 20)
    }

    /// Drives a source and a sink the way virStreamSparseSendAll and virStreamSparseRecvAll do.
    func copy(from source: SparseFileSource, to sink: SparseFileSink) throws -> (data: Int64, holes: Int64) {
        var data: Int64 = 0, holes: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 100_000)
        while true {
            let section = try source.section()
            if !section.inData && section.length == 0 { break }
            if !section.inData {
                try source.skip(section.length)
                try sink.hole(section.length)
                holes += section.length
                continue
            }
            var left = section.length
            while left > 0 {
                let got = try buffer.withUnsafeMutableBytes { bytes in
                    try source.read(into: UnsafeMutableRawBufferPointer(rebasing: bytes[..<min(bytes.count, Int(left))]))
                }
                #expect(got > 0)
                _ = try buffer.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[..<got])) }
                left -= Int64(got)
                data += Int64(got)
            }
        }
        try sink.sync()
        return (data, holes)
    }

    @Test func copiesDataAndKeepsHolesAsHoles() throws {
        let original = temporaryPath(), copy = temporaryPath()
        defer { unlink(original); unlink(copy) }
        try makeSparseFile(original)
        let moved = try self.copy(from: try SparseFileSource(path: original), to: try SparseFileSink(path: copy))
        #expect(moved.data + moved.holes == 4 << 20)
        #expect(moved.data < 1 << 20, "only the data sections were read: \(moved.data)")
        #expect(FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: original))
        var status = stat()
        stat(copy, &status)
        #expect(Int64(status.st_size) == 4 << 20)
        #expect(Int64(status.st_blocks) * 512 < 1 << 20, "the copy is sparse")
    }

    @Test func aMissingFileIsAnErrorThatNamesIt() {
        let error = #expect(throws: SparseFileError.self) { _ = try SparseFileSource(path: "/nonexistent/disk.qcow2") }
        #expect(error?.description.contains("/nonexistent/disk.qcow2") == true)
    }
}
