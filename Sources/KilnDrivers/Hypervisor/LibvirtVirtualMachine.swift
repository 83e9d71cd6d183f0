import Foundation
import KilnCore
import Libvirt

/// One started domain.
///
/// With a `lifeline` (the domain's handle on the connection that started it with autodestroy),
/// the guest's calls go over that connection, and once it has dropped they fail with
/// `HypervisorConnectionLost`: a guest that outlives its connection is no longer bound to
/// this process. Measured against a private libvirtd: stopped with SIGTERM (an orderly stop, as
/// `systemctl restart` does) it closes its clients' connections and so destroys their autodestroy
/// guests; killed with SIGKILL it leaves them running, and the restarted daemon takes them over
/// as plain transient domains. Either way the build stops. `destroy` finds the domain by name on
/// a new connection (waiting for a restarting daemon), so cleanup works after the loss.
/// Without a lifeline, every call finds the domain by name on the hypervisor's current connection.
actor LibvirtVirtualMachine: VirtualMachine {
    nonisolated let name: String
    nonisolated let placement: String?
    private let guestPort: Int
    private let hypervisor: LibvirtHypervisor
    private let lifeline: Domain?
    private let remote: RemoteRun?
    private var forwardedPort: Int?
    private var consoleMirror: Task<Void, Never>?

    /// How long cleanup waits for a libvirtd that went away to answer again.
    static let reconnectPatience: Duration = .seconds(30)

    init(name: String, guestPort: Int, hypervisor: LibvirtHypervisor, lifeline: Domain?,
         remote: RemoteRun? = nil, placement: String?) {
        self.name = name
        self.guestPort = guestPort
        self.hypervisor = hypervisor
        self.lifeline = lifeline
        self.remote = remote
        self.placement = placement
    }

    /// Starts copying the remote serial console into the work directory as it grows.
    func startConsoleMirror() {
        guard let remote, consoleMirror == nil else { return }
        consoleMirror = Task {
            while !Task.isCancelled {
                guard await remote.syncConsole() else { return }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// QEMU picked the host port when it started (hostfwd port 0); `info usernet` tells which.
    func sshEndpoint() async throws -> (host: String, port: Int) {
        if let forwardedPort { return ("127.0.0.1", forwardedPort) }
        let domain = try await currentDomain()
        let table: String
        do {
            table = try await domain.qemuMonitorCommand("info usernet", hmp: true)
        } catch {
            try await throwIfLifelineLost(error)
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
        guard let domain = try await domainIfAny() else { return .gone }
        do {
            return Self.vmState(try await domain.state().state)
        } catch where error.isNoDomain {
            return .gone
        } catch {
            try await throwIfLifelineLost(error)
            throw LibvirtFailure.error("cannot read the state of VM \(name)", error)
        }
    }

    /// ACPI power button. A domain already off or gone has nothing left to shut down.
    func requestShutdown() async throws {
        guard let domain = try await domainIfAny() else { return }
        do {
            try await domain.shutdown()
        } catch where error.isNoDomain || error.isOperationInvalid {
            return
        } catch {
            try await throwIfLifelineLost(error)
            throw LibvirtFailure.error("cannot shut down VM \(name)", error)
        }
    }

    /// Hard power-off, and for a remote guest the removal of its storage on that host.
    func destroy() async throws {
        consoleMirror?.cancel()
        // One wait for a daemon that went away, shared by everything cleanup does.
        let deadline = ContinuousClock.now + (await lifelineDropped() ? Self.reconnectPatience : .zero)
        var failure: (any Error)?
        do {
            try await hypervisor.destroyDomain(named: name, patience: deadline - ContinuousClock.now)
        } catch {
            failure = error
        }
        if let remote {
            _ = await remote.syncConsole()
            do {
                try await hypervisor.removePool(named: remote.pool.name, patience: max(.zero, deadline - ContinuousClock.now))
            } catch {
                failure = failure ?? error
            }
        }
        if let failure { throw failure }
    }

    /// A remote guest's disk comes back into the work directory, then its storage there goes.
    func finish(forcingOff: Bool) async throws -> String? {
        if let lifeline, await !lifeline.connection.isAlive() {
            throw lostError("the guest's connection was already closed")
        }
        guard let remote else {
            if forcingOff { try await destroy() }
            return nil
        }
        if forcingOff {
            try await hypervisor.destroyDomain(named: name)
        }
        consoleMirror?.cancel()
        _ = await remote.syncConsole()
        let note = try await remote.retrieveDisk()
        // The disk is back; should removing the pool fail now, `destroy` (the build's undo,
        // run at its end either way) tries again and reports it.
        try? await hypervisor.removePool(named: remote.pool.name, patience: .zero)
        return note
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

    // MARK: the lifeline

    private func domainIfAny() async throws -> Domain? {
        if let lifeline { return lifeline }
        return try await hypervisor.domain(named: name)
    }

    func currentDomain() async throws -> Domain {
        guard let domain = try await domainIfAny() else {
            throw KilnError(.hypervisor, "VM \(name) is gone (it powered off or was destroyed)")
        }
        return domain
    }

    /// libvirt marks a connection dead when a call on it fails for that reason, so this is
    /// checked after a failure.
    private func lifelineDropped() async -> Bool {
        guard let lifeline else { return false }
        return await !lifeline.connection.isAlive()
    }

    private func throwIfLifelineLost(_ error: any Error) async throws {
        if await lifelineDropped() {
            throw lostError((error as? LibvirtError)?.message ?? "\(error)")
        }
    }

    private func lostError(_ detail: String) -> KilnError {
        let lost = HypervisorConnectionLost(uri: hypervisor.uri, detail: detail)
        return KilnError(.hypervisor, "\(lost) (VM \(name))",
                         hint: "libvirtd stopped or restarted, or its host went away; the build stops because its guest "
                            + "is no longer tied to this run. Cleanup reconnects to remove the domain"
                            + (remote == nil ? "" : " and its storage") + "; `kiln clean --connect \(hypervisor.uri)` removes what it could not",
                         cause: lost)
    }
}
