import KilnCore
import Libvirt

/// One started domain, found by name on the hypervisor's current connection for every call,
/// so that it keeps working after the connection was reopened.
actor LibvirtVirtualMachine: VirtualMachine {
    nonisolated let name: String
    private let guestPort: Int
    private let hypervisor: LibvirtHypervisor
    private var forwardedPort: Int?

    init(name: String, guestPort: Int, hypervisor: LibvirtHypervisor) {
        self.name = name
        self.guestPort = guestPort
        self.hypervisor = hypervisor
    }

    /// QEMU picked the host port when it started (hostfwd port 0); `info usernet` tells which.
    func sshEndpoint() async throws -> (host: String, port: Int) {
        if let forwardedPort { return ("127.0.0.1", forwardedPort) }
        let domain = try await existingDomain()
        let table: String
        do {
            table = try await domain.qemuMonitorCommand("info usernet", hmp: true)
        } catch {
            throw LibvirtFailure.error("cannot ask QEMU which port VM \(name) forwards", error)
        }
        guard let port = UserNetworkInfo.hostPort(forwardingTo: guestPort, in: table) else {
            throw KilnError(.hypervisor, "QEMU forwards no host port to guest port \(guestPort) of VM \(name); "
                            + "`info usernet` said:\n\(table)")
        }
        forwardedPort = port
        return ("127.0.0.1", port)
    }

    func state() async throws -> VMState {
        guard let domain = try await hypervisor.domain(named: name) else { return .gone }
        do {
            return Self.vmState(try await domain.state().state)
        } catch where error.isNoDomain {
            return .gone
        } catch {
            throw LibvirtFailure.error("cannot read the state of VM \(name)", error)
        }
    }

    /// ACPI power button. A domain already off or gone has nothing left to shut down.
    func requestShutdown() async throws {
        guard let domain = try await hypervisor.domain(named: name) else { return }
        do {
            try await domain.shutdown()
        } catch where error.isNoDomain || error.isOperationInvalid {
            return
        } catch {
            throw LibvirtFailure.error("cannot shut down VM \(name)", error)
        }
    }

    func destroy() async throws {
        try await hypervisor.destroyDomain(named: name)
    }

    static func vmState(_ state: DomainState) -> VMState {
        switch state {
        case .running, .blocked: return .running
        case .paused, .pmSuspended: return .paused
        case .shutdown: return .shuttingDown
        case .shutoff: return .shutoff
        case .crashed: return .crashed
        case .noState: return .other
        }
    }

    func existingDomain() async throws -> Domain {
        guard let domain = try await hypervisor.domain(named: name) else {
            throw KilnError(.hypervisor, "VM \(name) is gone (it powered off or was destroyed)")
        }
        return domain
    }
}
