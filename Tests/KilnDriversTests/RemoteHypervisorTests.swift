import Foundation
import Testing
import KilnCore
import KilnTestSupport
import Libvirt
@testable import KilnDrivers

/// LibvirtHypervisor on a "remote" libvirtd: a second daemon on 127.0.0.1 over TCP whose pools
/// this process cannot see (scripts/lib/remote-libvirtd.sh). The guest is the host's kernel
/// with an empty disk, as in LibvirtHypervisorIntegrationTests; every test stops the daemon,
/// and every guest with it, even when it fails.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["KILN_INTEGRATION"] == "1"),
       .timeLimit(.minutes(5)))
struct RemoteHypervisorTests {
    func poolNames(_ daemon: RemoteLibvirtd) async throws -> [String] {
        try await daemon.names(["pool-list", "--all", "--name"])
    }

    func domainNames(_ daemon: RemoteLibvirtd) async throws -> [String] {
        try await daemon.names(["list", "--all", "--name"])
    }

    @Test func runsTheGuestFromAPoolThereAndBringsTheDiskBack() async throws {
        try await RemoteLibvirtd.with { daemon in
            let fixture = try BootFixture()
            let hypervisor = LibvirtHypervisor(uri: daemon.uri)
            try await fixture.run(cleanup: { try? await hypervisor.destroyDomain(named: fixture.name) }) {
                let before = try Data(contentsOf: URL(fileURLWithPath: fixture.config.diskPath))
                let vm = try await hypervisor.start(fixture.config)
                #expect(vm.placement?.contains(daemon.uri) == true, "\(vm.placement ?? "")")
                #expect(vm.placement?.contains("remote host 127.0.0.1") == true)
                #expect(try await vm.state() == .running)
                #expect(try await domainNames(daemon) == [fixture.name])
                #expect(try await BootFixture.virshDomainNames().contains(fixture.name) == false, "not on the host's libvirtd")

                // Everything the guest uses is in the pool, which only the daemon's namespace sees.
                let pool = "/var/lib/libvirt/images/\(fixture.name)"
                #expect(try await poolNames(daemon) == [fixture.name])
                let volumes = try await daemon.insideNamespace("ls \(pool)")
                #expect(Set(volumes.split(whereSeparator: \.isNewline).map(String.init))
                        == ["disk.qcow2", "kernel", "console.log", "kiln-owner.json"], "\(volumes)")
                #expect(!FileManager.default.fileExists(atPath: pool))
                let xml = try await daemon.virsh(["dumpxml", fixture.name])
                #expect(xml.contains("<source file='\(pool)/disk.qcow2'"), "\(xml)")
                #expect(xml.contains("<kiln:host>\(HostIdentity.current)</kiln:host>") || xml.contains(HostIdentity.current))

                // The console comes back into the work directory as it grows.
                #expect(try await fixture.waitForConsole(containing: "Linux version", seconds: 60))
                // The forwarded port is on that host's 127.0.0.1, which is this machine's.
                let endpoint = try await vm.sshEndpoint()
                #expect(TCPProbe.connects(host: endpoint.host, port: endpoint.port))
                #expect(try await hypervisor.kilnDomains().map(\.domainName) == [fixture.name])
                #expect(try await hypervisor.kilnStorage() == [StorageLeftover(name: fixture.name, ownerPID: getpid(), ownerAlive: true)])

                let note = try await vm.finish(forcingOff: true)
                #expect(note?.contains("disk downloaded from pool \(fixture.name) on 127.0.0.1") == true, "\(note ?? "")")
                #expect(try await poolNames(daemon).isEmpty)
                #expect(try await domainNames(daemon).isEmpty)
                // The work disk is the one that ran there: standalone now, never the same bytes as before.
                let info = try await QemuImg.info(fixture.config.diskPath)
                #expect(info.format == "qcow2" && info.backingFile == nil && info.virtualSize == 64 << 20)
                #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.config.diskPath)).count >= before.count)
                try await vm.destroy()
            }
            #expect(try await poolNames(daemon).isEmpty)
            #expect(try await daemon.insideNamespace("ls /var/lib/libvirt/images") == "")
        }
    }

    @Test func destroyRemovesTheDomainAndItsPool() async throws {
        try await RemoteLibvirtd.with { daemon in
            let fixture = try BootFixture()
            let hypervisor = LibvirtHypervisor(uri: daemon.uri)
            try await fixture.run(cleanup: { try? await hypervisor.destroyDomain(named: fixture.name) }) {
                let vm = try await hypervisor.start(fixture.config)
                try await vm.destroy()
                #expect(try await vm.state() == .gone)
                try await vm.destroy()
                #expect(try await poolNames(daemon).isEmpty)
                #expect(try await domainNames(daemon).isEmpty)
            }
        }
    }

    /// Needs OVMF there (here: the same machine). The variables file is made in the pool and goes with it.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/qemu/firmware/60-edk2-x86_64.json")))
    func bootsUEFIWithItsVariablesInThePool() async throws {
        try await RemoteLibvirtd.with { daemon in
            let fixture = try BootFixture()
            var config = fixture.config
            config.firmware = .uefi
            let uefi = config
            let hypervisor = LibvirtHypervisor(uri: daemon.uri)
            try await fixture.run(cleanup: { try? await hypervisor.destroyDomain(named: fixture.name) }) {
                let vm = try await hypervisor.start(uefi)
                let booted = try await fixture.waitForConsole(containing: "Linux version", seconds: 120)
                #expect(booted)
                let files = try await daemon.insideNamespace("ls /var/lib/libvirt/images/\(fixture.name)")
                #expect(files.contains("efivars.fd"), "\(files)")
                try await vm.destroy()
                let left = try await daemon.insideNamespace("ls -A /var/lib/libvirt/images")
                #expect(left == "", "\(left)")
            }
        }
    }

    @Test func aFailedStartLeavesNothingThere() async throws {
        try await RemoteLibvirtd.with { daemon in
            let fixture = try BootFixture()
            var config = fixture.config
            config.kernelBoot?.kernel = "/nonexistent/vmlinuz"
            let broken = config
            let hypervisor = LibvirtHypervisor(uri: daemon.uri)
            try await fixture.run(cleanup: { try? await hypervisor.destroyDomain(named: fixture.name) }) {
                let error = await #expect(throws: KilnError.self) { _ = try await hypervisor.start(broken) }
                #expect(error?.message.contains("/nonexistent/vmlinuz") == true, "\(String(describing: error))")
                let pools = try await poolNames(daemon), domains = try await domainNames(daemon)
                #expect(pools.isEmpty && domains.isEmpty, "\(pools) \(domains)")
                let leftover = FileManager.default.fileExists(atPath: fixture.config.diskPath + ".standalone")
                #expect(!leftover)
            }
        }
    }

    /// libvirtd stopped in order (SIGTERM, as `systemctl restart` does) or killed (SIGKILL, a
    /// crash) and started again while the guest runs. What happens to the guest differs (an
    /// orderly stop closes the clients' connections, which destroys autodestroy guests, when
    /// it gets that far; a crash leaves them running, no longer bound to any connection), so
    /// only what must hold is checked: the guest's calls say the connection was lost, and
    /// destroy, run while the daemon is still down, waits for it and removes the domain and pool.
    @Test(arguments: ["TERM", "KILL"])
    func aRestartedDaemonIsReportedAndCleanupRemovesEverything(signal: String) async throws {
        try await RemoteLibvirtd.with { daemon in
            let fixture = try BootFixture()
            let hypervisor = LibvirtHypervisor(uri: daemon.uri)
            try await fixture.run(cleanup: { try? await hypervisor.destroyDomain(named: fixture.name) }) {
                let vm = try await hypervisor.start(fixture.config)
                #expect(try await vm.state() == .running)
                try await daemon.killDaemon(signal: signal)
                let error = await #expect(throws: KilnError.self) { _ = try await vm.state() }
                #expect(error?.message.contains("lost the connection to libvirt at \(daemon.uri)") == true, "\(String(describing: error))")
                #expect(error?.cause is HypervisorConnectionLost)
                await #expect(throws: KilnError.self) { try await vm.requestShutdown() }
                let restart = Task {
                    try await Task.sleep(for: .seconds(3))
                    try await daemon.startDaemon()
                }
                try await vm.destroy()
                try await restart.value
                let domains = try await domainNames(daemon), pools = try await poolNames(daemon)
                #expect(domains.isEmpty && pools.isEmpty, "\(domains) \(pools)")
            }
        }
    }

    @Test func theJanitorRemovesPoolsOfDeadOwnersOfThisMachineOnly() async throws {
        try await RemoteLibvirtd.with { daemon in
            let connection = try await Connection.open(uri: daemon.uri)
            var dead = RemoteOwner.current(domain: "kiln-dead-00000001")
            dead.pid = Int32.max - 1
            var foreign = dead
            foreign.host = "another-machine"
            let live = RemoteOwner.current(domain: "kiln-live-00000002")
            let parent = "/var/lib/libvirt/images"
            _ = try await RemotePool.create(on: connection, name: "kiln-dead-00000001", parent: parent, owner: dead)
            _ = try await RemotePool.create(on: connection, name: "kiln-foreign-00000003", parent: parent, owner: foreign)
            _ = try await RemotePool.create(on: connection, name: "kiln-live-00000002", parent: parent, owner: live)
            // Killed between define and start: no owner record, inactive.
            _ = try await connection.defineStoragePool(xml: StorageXML.pool(name: "kiln-half-00000004", path: parent + "/kiln-half-00000004"))

            let root = "/var/tmp/kiln-janitor-test-\(UUID().uuidString.prefix(8))"
            let report = await Janitor.clean(hypervisors: [LibvirtHypervisor(uri: daemon.uri)], workRoot: root)
            #expect(report.failed.isEmpty, "\(report.failed)")
            #expect(Set(try await poolNames(daemon)) == ["kiln-foreign-00000003", "kiln-live-00000002"], "\(report.removed)")
            #expect(report.removed.contains { $0.contains("kiln-dead-00000001") && $0.contains("is gone") })
            #expect(report.removed.contains { $0.contains("kiln-half-00000004") && $0.contains("no owner record") })
            try await RemotePool.remove(named: "kiln-foreign-00000003", on: connection)
            try await RemotePool.remove(named: "kiln-live-00000002", on: connection)
            #expect(try await poolNames(daemon).isEmpty)
            #expect(try await daemon.insideNamespace("ls /var/lib/libvirt/images") == "")
        }
    }
}
