import KilnCore
import KilnTemplate
import Libvirt

/// A Kiln domain found on the connection: its name and what its metadata says.
public struct KilnDomainRecord: Sendable, Equatable {
    public var domainName: String
    public var ownerPID: Int32
    public var workDirectory: String
}

/// The `Hypervisor` port over libvirt. The connection is opened on first use and reused. When
/// a call fails because the connection died (libvirtd restarted), it is reopened: read-only
/// calls are retried once on the new one, and `start` pings first so it never uses a dead one.
///
/// Domains are started with VIR_DOMAIN_START_AUTODESTROY unless `destroyOnDisconnect` is false:
/// libvirtd then destroys them when this process's connection closes, even after a SIGKILL.
/// The Kiln metadata in each domain covers what autodestroy cannot (a restarted libvirtd).
public actor LibvirtHypervisor: Hypervisor {
    public nonisolated let uri: String
    private let destroyOnDisconnect: Bool
    private var connection: Connection?
    private var opening: Task<Connection, any Error>?

    public init(uri: String = "qemu:///system", destroyOnDisconnect: Bool = true) {
        self.uri = uri
        self.destroyOnDisconnect = destroyOnDisconnect
    }

    public nonisolated func chooseAccelerator(_ choice: AcceleratorChoice) async throws -> (Accelerator, reason: String) {
        try AcceleratorProbe.choose(choice, facts: AcceleratorProbe.readFacts())
    }

    public func start(_ config: VMConfig) async throws -> any VirtualMachine {
        let xml = DomainXML.render(config)
        let connection = try await reconnecting("cannot reach libvirt at \(uri)") { connection throws(LibvirtError) in
            _ = try await connection.libraryVersion()
            return connection
        }
        let flags: DomainCreateFlags = destroyOnDisconnect ? [.autodestroy] : []
        do {
            _ = try await connection.createDomain(xml: xml, flags: flags)
        } catch {
            throw LibvirtFailure.error("cannot start VM \(config.name)", error,
                                       hint: LibvirtFailure.startHint(config, error))
        }
        return LibvirtVirtualMachine(name: config.name, guestPort: config.guestSSHPort, hypervisor: self)
    }

    public func kilnDomains() async throws -> [Leftover] {
        try await kilnDomainRecords().map {
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
                                            workDirectory: metadata.workDirectory))
        }
        return records
    }

    /// Hard power-off; a domain that is already gone or already off counts as destroyed.
    public func destroyDomain(named name: String) async throws {
        guard let domain = try await domain(named: name) else { return }
        do {
            try await domain.destroy()
        } catch where error.isNoDomain || error.isOperationInvalid {
            return
        } catch {
            throw LibvirtFailure.error("cannot destroy VM \(name)", error)
        }
    }

    /// The domain called `name`, or nil when there is none.
    func domain(named name: String) async throws -> Domain? {
        try await reconnecting("cannot look up VM \(name)") { connection throws(LibvirtError) -> Domain? in
            do throws(LibvirtError) {
                return try await connection.lookupDomain(named: name)
            } catch where error.isNoDomain {
                return nil
            }
        }
    }

    /// Runs a call that is safe to repeat. libvirt only notices a dead connection when a call
    /// fails on it, so after a failure the connection is checked, and when it has died the call
    /// is retried once on a new one.
    private func reconnecting<T: Sendable>(
        _ context: String, _ call: (Connection) async throws(LibvirtError) -> T
    ) async throws -> T {
        let connection = try await liveConnection()
        do {
            return try await call(connection)
        } catch {
            guard await !connection.isAlive() else { throw LibvirtFailure.error(context, error) }
            if self.connection === connection { self.connection = nil }
        }
        do {
            return try await call(try await liveConnection())
        } catch {
            throw LibvirtFailure.error(context, error)
        }
    }

    /// The open connection, or a new one. Concurrent callers share one opening attempt.
    private func liveConnection() async throws -> Connection {
        if let connection, await connection.isAlive() { return connection }
        let attempt: Task<Connection, any Error>
        if let opening {
            attempt = opening
        } else {
            let uri = self.uri
            attempt = Task { try await Connection.open(uri: uri) }
            opening = attempt
        }
        defer { if opening == attempt { opening = nil } }
        do {
            let opened = try await attempt.value
            connection = opened
            return opened
        } catch {
            throw LibvirtFailure.error("cannot connect to libvirt at \(uri)", error, hint: LibvirtFailure.daemonHint)
        }
    }
}
