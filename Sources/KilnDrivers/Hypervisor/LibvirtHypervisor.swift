import Foundation
import KilnCore
import KilnTemplate
import Libvirt

/// A Kiln domain found on the connection: its name and what its metadata says.
public struct KilnDomainRecord: Sendable, Equatable {
    public var domainName: String
    public var ownerPID: Int32
    public var workDirectory: String
    /// Set for domains on a remote host: the machine of the owner process.
    public var ownerHost: String? = nil
}

/// The `Hypervisor` port over libvirt, local or remote. The connection is opened on first use
/// and reused. When a call fails because the connection died (libvirtd restarted), it is
/// reopened: read-only calls are retried once on the new one, and `start` pings first so it
/// never uses a dead one.
///
/// Domains are started with VIR_DOMAIN_START_AUTODESTROY unless `destroyOnDisconnect` is false:
/// libvirtd then destroys them when this process's connection closes, even after a SIGKILL.
/// That connection is the guest's lifeline: once it drops, the guest's calls fail with
/// `HypervisorConnectionLost` (see `LibvirtVirtualMachine`). The Kiln metadata in each domain
/// covers what autodestroy cannot (libvirtd killed and restarted keeps the guest, unowned).
///
/// A remote URI (a network transport or a host, see `LibvirtURI`) runs the guest on that host:
/// its disk, kernel and console go into a storage pool there (`RemotePool`), uploaded and
/// downloaded through libvirt streams; the guest's SSH port is forwarded on that host's
/// 127.0.0.1, which Kiln reaches only when that host is this machine.
public actor LibvirtHypervisor: Hypervisor {
    public nonisolated let uri: String
    /// Set when the daemon is not on this machine's filesystem.
    public nonisolated let remote: LibvirtURI?
    let destroyOnDisconnect: Bool
    let remotePoolParent: String
    private var connection: Connection?
    private var opening: Task<Connection, any Error>?

    /// `remotePoolParent`: where a remote host keeps the builds' pools (libvirt's own image directory).
    public init(uri: String = "qemu:///system", destroyOnDisconnect: Bool = true,
                remotePoolParent: String = "/var/lib/libvirt/images") {
        self.uri = uri
        self.destroyOnDisconnect = destroyOnDisconnect
        self.remotePoolParent = remotePoolParent
        let parsed = LibvirtURI(uri)
        self.remote = parsed?.isRemote == true ? parsed : nil
    }

    public nonisolated func chooseAccelerator(_ choice: AcceleratorChoice) async throws -> (Accelerator, reason: String) {
        guard let remote, !remote.isLoopbackHost else {
            // A daemon on this machine (even reached over TCP) runs guests on this CPU.
            return try AcceleratorProbe.choose(choice, facts: AcceleratorProbe.readFacts())
        }
        let capabilities = try await reconnecting("cannot read the capabilities of \(uri)") { connection throws(LibvirtError) in
            try await connection.capabilities()
        }
        return try AcceleratorProbe.chooseRemote(choice, host: remote.hostDescription,
                                                 offersKVM: AcceleratorProbe.capabilitiesOfferKVM(capabilities))
    }

    public func start(_ config: VMConfig) async throws -> any VirtualMachine {
        if let remote {
            try Self.checkGuestReachable(remote, uri: uri)
        }
        let connection = try await reconnecting("cannot reach libvirt at \(uri)") { connection throws(LibvirtError) in
            _ = try await connection.libraryVersion()
            return connection
        }
        if remote != nil {
            return try await startRemote(config, on: connection)
        }
        let domain = try await createDomain(DomainXML.render(config), config, on: connection)
        return LibvirtVirtualMachine(name: config.name, guestPort: config.guestSSHPort, hypervisor: self,
                                     lifeline: destroyOnDisconnect ? domain : nil,
                                     placement: "domain \(config.name) on \(uri)")
    }

    func createDomain(_ xml: String, _ config: VMConfig, on connection: Connection) async throws -> Domain {
        let flags: DomainCreateFlags = destroyOnDisconnect ? [.autodestroy] : []
        do {
            return try await connection.createDomain(xml: xml, flags: flags)
        } catch {
            throw LibvirtFailure.error("cannot start VM \(config.name)", error,
                                       hint: LibvirtFailure.startHint(config, error, host: remote?.host))
        }
    }

    /// The guest's SSH port is forwarded on 127.0.0.1 of the hypervisor's host and nowhere else.
    static func checkGuestReachable(_ remote: LibvirtURI, uri: String) throws {
        guard remote.isLoopbackHost else {
            throw KilnError(.hypervisor, """
                cannot reach the guest's SSH on \(remote.hostDescription): QEMU forwards it on 127.0.0.1 of that host only, \
                and Kiln reaches a remote hypervisor's guests only when that host is this machine (\(uri))
                """, hint: "run kiln on \(remote.hostDescription) itself (with --connect qemu:///system), or use a hypervisor on 127.0.0.1")
        }
    }

    public func kilnDomains() async throws -> [Leftover] {
        try await kilnDomainRecords().filter { $0.ownerHost == nil || $0.ownerHost == HostIdentity.current }.map {
            Leftover(domainName: $0.domainName, workDirectory: $0.workDirectory, ownerPID: $0.ownerPID)
        }
    }

    /// Every domain whose metadata has Kiln's namespace, running or not.
    public func kilnDomainRecords() async throws -> [KilnDomainRecord] {
        let domains = try await reconnecting("cannot list the domains of \(uri)") { connection throws(LibvirtError) in
            try await connection.listAllDomains()
        }
        var records: [KilnDomainRecord] = []
        for domain in domains {
            let xml: String?
            do {
                xml = try await domain.metadata(namespaceURI: BuildMetadata.namespaceURI)
            } catch where error.isNoDomain {
                continue  // went away between the listing and this call
            } catch {
                throw LibvirtFailure.error("cannot read the metadata of domain \(domain.name)", error)
            }
            guard let xml, let metadata = BuildMetadata.parse(xml) else { continue }
            records.append(KilnDomainRecord(domainName: domain.name, ownerPID: metadata.ownerPID,
                                            workDirectory: metadata.workDirectory, ownerHost: metadata.ownerHost))
        }
        return records
    }

    /// Hard power-off; a domain that is already gone or already off counts as destroyed.
    public func destroyDomain(named name: String) async throws {
        try await destroyDomain(named: name, patience: .zero)
    }

    /// As `destroyDomain(named:)`; after a lost connection, keeps trying to reconnect for `patience`
    /// (a restarting libvirtd answers again within seconds).
    func destroyDomain(named name: String, patience: Duration) async throws {
        guard let domain = try await domain(named: name, patience: patience) else { return }
        do {
            try await domain.destroy()
        } catch where error.isNoDomain || error.isOperationInvalid {
            return
        } catch {
            throw LibvirtFailure.error("cannot destroy VM \(name)", error)
        }
    }

    /// The domain called `name`, or nil when there is none.
    func domain(named name: String, patience: Duration = .zero) async throws -> Domain? {
        try await reconnecting("cannot look up VM \(name)", patience: patience) { connection throws(LibvirtError) -> Domain? in
            do throws(LibvirtError) {
                return try await connection.lookupDomain(named: name)
            } catch where error.isNoDomain {
                return nil
            }
        }
    }

    /// Runs a call that is safe to repeat. libvirt only notices a dead connection when a call
    /// fails on it, so after a failure the connection is checked, and when it has died the call
    /// is retried once on a new one. With `patience`, opening the new one is retried that long.
    func reconnecting<T: Sendable>(
        _ context: String, patience: Duration = .zero, _ call: (Connection) async throws(LibvirtError) -> T
    ) async throws -> T {
        let connection = try await liveConnection(patience: patience)
        do {
            return try await call(connection)
        } catch {
            guard await !connection.isAlive() else { throw LibvirtFailure.error(context, error) }
            if self.connection === connection { self.connection = nil }
        }
        do {
            return try await call(try await liveConnection(patience: patience))
        } catch {
            throw LibvirtFailure.error(context, error)
        }
    }

    /// The open connection, or a new one, retried for up to `patience`.
    private func liveConnection(patience: Duration) async throws -> Connection {
        let deadline = ContinuousClock.now + patience
        while true {
            do {
                return try await liveConnection()
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// How long a daemon may take to answer a new connection.
    static let openTimeout: Duration = .seconds(20)
    /// Remote connections ping the daemon every 5 s and give up after 6 pings without an
    /// answer: a host or daemon that stops answering fails the calls within about 30 s instead
    /// of hanging them (a busy daemon still answers pings; virsh uses the same figures).
    static let keepAlive = (interval: Int32(5), count: UInt32(6))

    /// The open connection, or a new one. Concurrent callers share one opening attempt.
    private func liveConnection() async throws -> Connection {
        if let connection, await connection.isAlive() { return connection }
        let attempt: Task<Connection, any Error>
        if let opening {
            attempt = opening
        } else {
            let uri = self.uri, isRemote = remote != nil
            attempt = Task {
                let opened = try await Connection.open(uri: uri)
                if isRemote { _ = try? await opened.setKeepAlive(interval: Self.keepAlive.interval, count: Self.keepAlive.count) }
                return opened
            }
            opening = attempt
        }
        defer { if opening == attempt { opening = nil } }
        do {
            let opened = try await BoundedWait.value(of: attempt, within: Self.openTimeout)
            connection = opened
            return opened
        } catch is BoundedWait.TimedOut {
            throw KilnError(.hypervisor, "libvirt at \(uri) accepted the connection but did not answer within "
                            + "\(DurationFormat.string(Self.openTimeout))",
                            hint: remote == nil ? LibvirtFailure.daemonHint : LibvirtFailure.remoteDaemonHint(uri))
        } catch {
            throw LibvirtFailure.error("cannot connect to libvirt at \(uri)", error,
                                       hint: remote == nil ? LibvirtFailure.daemonHint : LibvirtFailure.remoteDaemonHint(uri))
        }
    }
}
