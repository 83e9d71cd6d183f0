import CLibvirt
import Glibc

/// A `virConnectPtr`: a connection to a hypervisor driver such as `qemu:///system`.
///
/// `@unchecked Sendable`: libvirt connections are thread-safe (since 0.6.0), and every call
/// through this class is also funnelled through one serial `CallQueue`, off the cooperative pool.
/// The handle is closed in `deinit`; domains keep their connection alive.
public final class Connection: @unchecked Sendable {
    let handle: OpaquePointer
    let calls: CallQueue
    public let uri: String

    private init(handle: OpaquePointer, uri: String, calls: CallQueue) {
        self.handle = handle
        self.uri = uri
        self.calls = calls
    }

    /// virConnectClose is a round trip to the daemon, so it runs on the call queue too.
    deinit {
        let closing = UncheckedHandle(handle)
        calls.enqueue { virConnectClose(closing.pointer) }
    }

    /// `virConnectOpen`: opens a read-write connection.
    public static func open(uri: String) async throws(LibvirtError) -> Connection {
        ProcessSetup.apply()
        let calls = CallQueue(label: "libvirt \(uri)")
        let opened = try await calls.run { () throws(LibvirtError) -> UncheckedHandle in
            guard let connection = virConnectOpen(uri) else {
                throw LibvirtError.last("cannot connect to \(uri)")
            }
            return UncheckedHandle(connection)
        }
        return Connection(handle: opened.pointer, uri: uri, calls: calls)
    }

    /// `virConnectIsAlive`: false once the daemon went away (e.g. libvirtd restarted).
    public func isAlive() async -> Bool {
        (try? await calls.run { [self] () throws(LibvirtError) -> Bool in
            virConnectIsAlive(handle) == 1
        }) ?? false
    }

    /// `virConnectSetKeepAlive`: the client pings the daemon every `interval` seconds, and
    /// closes the connection when `count` pings in a row get no answer; every call then fails
    /// instead of waiting forever. False when the daemon does not support it.
    public func setKeepAlive(interval: Int32, count: UInt32) async throws(LibvirtError) -> Bool {
        try await calls.run { [self] () throws(LibvirtError) -> Bool in
            let result = virConnectSetKeepAlive(handle, interval, count)
            guard result >= 0 else { throw LibvirtError.last("cannot set up keepalive on \(uri)") }
            return result == 0
        }
    }

    /// `virDomainCreateXML`: creates and starts a transient domain.
    public func createDomain(xml: String, flags: DomainCreateFlags = []) async throws(LibvirtError) -> Domain {
        let created = try await calls.run { [self] () throws(LibvirtError) -> UncheckedHandle in
            guard let domain = virDomainCreateXML(handle, xml, flags.rawValue) else {
                throw LibvirtError.last("cannot create the domain")
            }
            return UncheckedHandle(domain)
        }
        return Domain(handle: created.pointer, connection: self)
    }

    /// `virDomainLookupByName`; throws an error whose `isNoDomain` is true when there is none.
    public func lookupDomain(named name: String) async throws(LibvirtError) -> Domain {
        let found = try await calls.run { [self] () throws(LibvirtError) -> UncheckedHandle in
            guard let domain = virDomainLookupByName(handle, name) else {
                throw LibvirtError.last("cannot find domain \(name)")
            }
            return UncheckedHandle(domain)
        }
        return Domain(handle: found.pointer, connection: self)
    }

    /// `virConnectListAllDomains`.
    public func listAllDomains(flags: ListDomainsFlags = []) async throws(LibvirtError) -> [Domain] {
        let handles = try await calls.run { [self] () throws(LibvirtError) -> [UncheckedHandle] in
            var list: UnsafeMutablePointer<virDomainPtr?>?
            let count = virConnectListAllDomains(handle, &list, flags.rawValue)
            guard count >= 0 else { throw LibvirtError.last("cannot list domains") }
            defer { free(list) }
            return (0..<Int(count)).compactMap { index in list?[index].map(UncheckedHandle.init) }
        }
        return handles.map { Domain(handle: $0.pointer, connection: self) }
    }

    /// `virConnectGetCapabilities`: the host capabilities XML.
    public func capabilities() async throws(LibvirtError) -> String {
        try await calls.run { [self] () throws(LibvirtError) -> String in
            guard let xml = virConnectGetCapabilities(handle) else {
                throw LibvirtError.last("cannot read the capabilities")
            }
            defer { free(xml) }
            return String(cString: xml)
        }
    }

    /// `virConnectGetVersion`: the hypervisor's version (QEMU's for the qemu driver).
    public func hypervisorVersion() async throws(LibvirtError) -> Version {
        try await calls.run { [self] () throws(LibvirtError) -> Version in
            var version: UInt = 0
            guard virConnectGetVersion(handle, &version) == 0 else {
                throw LibvirtError.last("cannot read the hypervisor version")
            }
            return Version(encoded: version)
        }
    }

    /// `virConnectGetLibVersion`: the version of libvirt on the daemon's side.
    public func libraryVersion() async throws(LibvirtError) -> Version {
        try await calls.run { [self] () throws(LibvirtError) -> Version in
            var version: UInt = 0
            guard virConnectGetLibVersion(handle, &version) == 0 else {
                throw LibvirtError.last("cannot read the libvirt version")
            }
            return Version(encoded: version)
        }
    }
}

/// Carries a freshly returned handle from the call queue to its owning object.
struct UncheckedHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}
