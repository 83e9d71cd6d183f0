import CLibvirt
import Glibc

/// A `virDomainPtr`, freed in `deinit`. Keeps its `Connection` alive; its calls run on the
/// connection's call queue (see `Connection` for why this is `@unchecked Sendable`).
public final class Domain: @unchecked Sendable {
    let handle: OpaquePointer
    public let connection: Connection
    public let name: String

    init(handle: OpaquePointer, connection: Connection) {
        self.handle = handle
        self.connection = connection
        // virDomainGetName reads the handle's own copy; no round trip to the daemon.
        self.name = virDomainGetName(handle).map { String(cString: $0) } ?? ""
    }

    deinit {
        virDomainFree(handle)
    }

    /// `virDomainGetInfo`.
    public func info() async throws(LibvirtError) -> DomainInfo {
        try await connection.calls.run { [self] () throws(LibvirtError) -> DomainInfo in
            var info = virDomainInfo()
            guard virDomainGetInfo(handle, &info) == 0 else {
                throw LibvirtError.last("cannot read the state of domain \(name)")
            }
            return DomainInfo(state: DomainState(raw: Int32(info.state)), maxMemoryKiB: UInt64(info.maxMem),
                              memoryKiB: UInt64(info.memory), virtualCPUs: Int(info.nrVirtCpu),
                              cpuTimeNanoseconds: UInt64(info.cpuTime))
        }
    }

    /// `virDomainGetState`: the state and its reason (a `vir<State>Reason` value).
    public func state() async throws(LibvirtError) -> (state: DomainState, reason: Int32) {
        try await connection.calls.run { [self] () throws(LibvirtError) -> (state: DomainState, reason: Int32) in
            var state: Int32 = 0
            var reason: Int32 = 0
            guard virDomainGetState(handle, &state, &reason, 0) == 0 else {
                throw LibvirtError.last("cannot read the state of domain \(name)")
            }
            return (DomainState(raw: state), reason)
        }
    }

    /// `virDomainShutdown`: asks the guest to power off (ACPI power button by default).
    public func shutdown() async throws(LibvirtError) {
        try await connection.calls.run { [self] () throws(LibvirtError) in
            guard virDomainShutdown(handle) == 0 else {
                throw LibvirtError.last("cannot shut down domain \(name)")
            }
        }
    }

    /// `virDomainDestroy`: hard power-off; a transient domain disappears with it.
    public func destroy() async throws(LibvirtError) {
        try await connection.calls.run { [self] () throws(LibvirtError) in
            guard virDomainDestroy(handle) == 0 else {
                throw LibvirtError.last("cannot destroy domain \(name)")
            }
        }
    }

    /// `virDomainGetXMLDesc`.
    public func xmlDescription(flags: DomainXMLFlags = []) async throws(LibvirtError) -> String {
        try await connection.calls.run { [self] () throws(LibvirtError) -> String in
            guard let xml = virDomainGetXMLDesc(handle, flags.rawValue) else {
                throw LibvirtError.last("cannot read the XML of domain \(name)")
            }
            defer { free(xml) }
            return String(cString: xml)
        }
    }

    /// `virDomainQemuMonitorCommand`: sends a command to QEMU's monitor, as HMP text or QMP JSON.
    public func qemuMonitorCommand(_ command: String, hmp: Bool) async throws(LibvirtError) -> String {
        let flags = hmp ? VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP.rawValue : 0
        return try await connection.calls.run { [self] () throws(LibvirtError) -> String in
            var result: UnsafeMutablePointer<CChar>?
            guard virDomainQemuMonitorCommand(handle, command, &result, flags) == 0 else {
                throw LibvirtError.last("monitor command failed on domain \(name)")
            }
            defer { free(result) }
            return result.map { String(cString: $0) } ?? ""
        }
    }

    /// `virDomainGetMetadata(VIR_DOMAIN_METADATA_ELEMENT)`: the `<metadata>` child element in
    /// namespace `namespaceURI`, or nil when the domain has none (VIR_ERR_NO_DOMAIN_METADATA).
    public func metadata(namespaceURI: String) async throws(LibvirtError) -> String? {
        try await connection.calls.run { [self] () throws(LibvirtError) -> String? in
            let type = Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue)
            guard let xml = virDomainGetMetadata(handle, type, namespaceURI, 0) else {
                let error = LibvirtError.last("cannot read the metadata of domain \(name)")
                if error.isNoMetadata { return nil }
                throw error
            }
            defer { free(xml) }
            return String(cString: xml)
        }
    }
}
