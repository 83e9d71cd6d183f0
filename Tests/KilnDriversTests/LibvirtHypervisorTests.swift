import Foundation
import Testing
import KilnCore
import Libvirt
@testable import KilnDrivers
@testable import KilnTemplate

@Suite struct UserNetworkInfoTests {
    /// Verbatim from QEMU 7.2 on this host.
    static let qemu72 = """
        Hub -1 (kiln0):
          Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ
          TCP[HOST_FORWARD]  10       127.0.0.1 46325       10.0.2.15    22     0     0

        """

    @Test func readsTheForwardedPort() {
        #expect(UserNetworkInfo.hostPort(forwardingTo: 22, in: Self.qemu72) == 46325)
        #expect(UserNetworkInfo.hostPort(forwardingTo: 2222, in: Self.qemu72) == nil)
    }

    @Test func toleratesOtherRowsAndColumns() {
        let table = """
            Hub -1 (kiln0):
              Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ
              UDP[HOST_FORWARD]  12       127.0.0.1 5353        10.0.2.15    53     0     0
              TCP[ESTABLISHED]   31       10.0.2.15 51234  151.101.2.132    80     0     0
              TCP[HOST_FORWARD]           127.0.0.1 40001       10.0.2.15  2222
              tcp[host_forward]  14       127.0.0.1     0       10.0.2.15    22     0     0
            """
        #expect(UserNetworkInfo.tcpHostForwards(in: table).map(\.hostPort) == [40001, 0])
        #expect(UserNetworkInfo.hostPort(forwardingTo: 2222, in: table) == 40001)
        #expect(UserNetworkInfo.hostPort(forwardingTo: 22, in: table) == nil, "port 0 means nothing is bound")
        #expect(UserNetworkInfo.hostPort(forwardingTo: 22, in: "") == nil)
    }
}

@Suite struct VMStateTests {
    @Test func mapsEveryLibvirtState() {
        let mapped = DomainState.allCases.map(LibvirtVirtualMachine.vmState)
        #expect(mapped == [.other, .running, .running, .paused, .shuttingDown, .shutoff, .crashed, .paused])
    }
}

/// Boots the host's own kernel (no root disk: it panics after booting, which is enough) in a
/// transient domain through the real libvirtd.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["KILN_INTEGRATION"] == "1"),
       .timeLimit(.minutes(5)))
struct LibvirtHypervisorIntegrationTests {
    @Test func bootsListsForwardsAndDestroys() async throws {
        let fixture = try BootFixture()
        let hypervisor = LibvirtHypervisor()
        try await fixture.run(cleanup: { try? await hypervisor.destroyDomain(named: fixture.name) }) {
            let vm = try await hypervisor.start(fixture.config)
            #expect(vm.name == fixture.name)
            #expect(try await vm.state() == .running)

            let records = try await hypervisor.kilnDomainRecords()
            #expect(records.contains(KilnDomainRecord(domainName: fixture.name, ownerPID: getpid(),
                                                      workDirectory: fixture.directory)))
            #expect(try await hypervisor.kilnDomains().contains(
                Leftover(domainName: fixture.name, workDirectory: fixture.directory, ownerPID: getpid())))

            let endpoint = try await vm.sshEndpoint()
            #expect(endpoint.host == "127.0.0.1")
            #expect(endpoint.port > 0 && endpoint.port != 22)
            #expect(TCPProbe.connects(host: endpoint.host, port: endpoint.port))
            #expect(try await vm.sshEndpoint() == endpoint)

            #expect(try await fixture.waitForConsole(containing: "Linux version", seconds: 60))

            try await vm.requestShutdown()
            try await vm.destroy()
            #expect(try await vm.state() == .gone)
            try await vm.destroy()
            try await vm.requestShutdown()
            #expect(try await !hypervisor.kilnDomains().contains { $0.domainName == fixture.name })
        }
        #expect(try await !BootFixture.virshDomainNames().contains(fixture.name))
    }

    /// Needs OVMF (Debian package ovmf), which scripts/setup does not install yet.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/qemu/firmware/60-edk2-x86_64.json")))
    func bootsUEFIWithItsVariablesInTheWorkDirectory() async throws {
        var fixture = try BootFixture()
        fixture.config.firmware = .uefi
        let hypervisor = LibvirtHypervisor()
        try await fixture.run(cleanup: { try? await hypervisor.destroyDomain(named: fixture.name) }) {
            let vm = try await hypervisor.start(fixture.config)
            #expect(try await fixture.waitForConsole(containing: "Linux version", seconds: 90))
            #expect(FileManager.default.fileExists(atPath: "\(fixture.directory)/efivars.fd"))
            try await vm.destroy()
        }
        #expect(!FileManager.default.fileExists(atPath: "/var/lib/libvirt/qemu/nvram/\(fixture.name)_VARS.fd"))
    }

    @Test func aDroppedConnectionTakesItsDomainsAlong() async throws {
        let fixture = try BootFixture()
        try await fixture.run(cleanup: { try? await LibvirtHypervisor().destroyDomain(named: fixture.name) }) {
            do {
                let hypervisor = LibvirtHypervisor()
                _ = try await hypervisor.start(fixture.config)
                #expect(try await BootFixture.virshDomainNames().contains(fixture.name))
            }
            // The hypervisor and its connection are released here: libvirtd autodestroys.
            var gone = false
            for _ in 0..<60 where !gone {
                gone = try await !BootFixture.virshDomainNames().contains(fixture.name)
                if !gone { try await Task.sleep(for: .milliseconds(500)) }
            }
            #expect(gone)
        }
    }

    @Test func destroyingAnUnknownDomainSucceeds() async throws {
        let hypervisor = LibvirtHypervisor()
        try await hypervisor.destroyDomain(named: "kiln-test-never-existed-\(UUID().uuidString.prefix(8))")
    }

    @Test func startErrorsAreHypervisorErrorsWithLibvirtsMessage() async throws {
        let fixture = try BootFixture()
        var config = fixture.config
        config.kernelBoot?.kernel = "/nonexistent/vmlinuz"
        let hypervisor = LibvirtHypervisor()
        try await fixture.run(cleanup: { try? await hypervisor.destroyDomain(named: fixture.name) }) {
            let error = await #expect(throws: KilnError.self) { _ = try await hypervisor.start(config) }
            #expect(error?.code == .hypervisor)
            #expect(error?.message.contains("/nonexistent/vmlinuz") == true, "\(String(describing: error))")
            #expect(error?.hint?.contains(fixture.name) == true)
        }
    }

    @Test func anUnreachableDaemonGivesTheSetupHint() async throws {
        let hypervisor = LibvirtHypervisor(uri: "qemu+unix:///system?socket=/nonexistent/libvirt-sock")
        let error = await #expect(throws: KilnError.self) { _ = try await hypervisor.kilnDomainRecords() }
        #expect(error?.code == .hypervisor)
        #expect(error?.hint?.contains("scripts/setup") == true)
    }
}

/// A temporary 0700 work directory with an empty qcow2 disk and the host's kernel.
struct BootFixture {
    let name = "kiln-test-\(UUID().uuidString.prefix(8).lowercased())"
    let directory: String
    var config: VMConfig

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        let kernels = try FileManager.default.contentsOfDirectory(atPath: "/boot").filter { $0.hasPrefix("vmlinuz-") }.sorted()
        let kernel = try #require(kernels.last, "no /boot/vmlinuz-* (install linux-image-amd64)")
        config = VMConfig(name: name, cpus: 1, memoryMiB: 256, accelerator: .tcg, firmware: .bios,
                          diskPath: "\(directory)/disk.qcow2", consoleLogPath: "\(directory)/console.log",
                          kernelBoot: KernelBoot(kernel: "/boot/\(kernel)", initrd: nil, cmdline: "console=ttyS0"),
                          ownerPID: getpid(), workDirectory: directory)
    }

    /// Runs `body` with the disk in place, then `cleanup` and the directory's removal, even when it throws.
    func run(cleanup: () async -> Void, _ body: () async throws -> Void) async throws {
        do {
            try await Subprocess.run(Self.tool("qemu-img"), ["create", "-q", "-f", "qcow2", config.diskPath, "64M"])
            try await body()
        } catch {
            await cleanup()
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        await cleanup()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func waitForConsole(containing text: String, seconds: Int) async throws -> Bool {
        for _ in 0..<(seconds * 4) {
            if let log = try? String(contentsOfFile: config.consoleLogPath, encoding: .utf8), log.contains(text) {
                return true
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        return false
    }

    /// An absolute path: Subprocess.which does not search PATH correctly at the moment.
    static func tool(_ name: String) -> String {
        ["/usr/bin", "/usr/sbin", "/bin", "/sbin"].map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? name
    }

    static func virshDomainNames() async throws -> [String] {
        let result = try await Subprocess.run(tool("virsh"), ["-c", "qemu:///system", "list", "--all", "--name"])
        return result.stdoutText.split(whereSeparator: \.isNewline).map(String.init)
    }
}

enum TCPProbe {
    /// Whether a TCP connection to host:port is accepted (IPv4 only).
    static func connects(host: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return false }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// Breaks this process's libvirt connection from the daemon's side with `virt-admin
/// client-disconnect`, as a libvirtd restart would, without disturbing other clients.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["KILN_INTEGRATION"] == "1"),
       .timeLimit(.minutes(2)))
struct LibvirtReconnectTests {
    @Test func aBrokenConnectionIsReopened() async throws {
        var hypervisor = LibvirtHypervisor()
        var ours: Set<String> = []
        for _ in 0..<5 where ours.count != 1 {
            let before = try await Self.clientsOfThisProcess()
            hypervisor = LibvirtHypervisor()
            _ = try await hypervisor.kilnDomainRecords()
            ours = try await Self.clientsOfThisProcess().subtracting(before)
        }
        let client = try #require(ours.count == 1 ? ours.first : nil, "cannot tell this connection from others")
        try await Subprocess.run(BootFixture.tool("virt-admin"), ["client-disconnect", "libvirtd", client])
        _ = try await hypervisor.kilnDomainRecords()
        #expect(try await !Self.clientsOfThisProcess().contains(client))
    }

    /// Ids of libvirtd's clients whose peer is this process.
    static func clientsOfThisProcess() async throws -> Set<String> {
        let admin = BootFixture.tool("virt-admin")
        let list = try await Subprocess.run(admin, ["srv-clients-list", "libvirtd"]).stdoutText
        var ids: Set<String> = []
        for line in list.split(whereSeparator: \.isNewline) {
            guard let id = line.split(separator: " ").first, Int(id) != nil else { continue }
            let info = try await Subprocess.run(admin, ["client-info", "libvirtd", String(id)], check: false).stdoutText
            if info.split(whereSeparator: \.isNewline).contains(where: { $0.hasPrefix("unix_process_id") && $0.hasSuffix(": \(getpid())") }) {
                ids.insert(String(id))
            }
        }
        return ids
    }
}
