import CLibvirt

/// `virDomainSnapshotCreateFlags` for `Domain.createSnapshot(xml:flags:)`.
public struct SnapshotCreateFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Only the disks: each named disk's current image is frozen and a new overlay takes the writes.
    public static let diskOnly = SnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY.rawValue)
    /// Keep no snapshot metadata in libvirt (the only kind a transient domain can take).
    public static let noMetadata = SnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA.rawValue)
    /// All disks or none.
    public static let atomic = SnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC.rawValue)
    /// Freeze the guest's filesystems through the guest agent first.
    public static let quiesce = SnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE.rawValue)
    /// Use overlay files that already exist instead of creating them.
    public static let reuseExternal = SnapshotCreateFlags(rawValue: VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT.rawValue)
}

extension Domain {
    /// `virDomainSnapshotCreateXML`. The snapshot handle is freed at once: with `noMetadata`
    /// libvirt keeps nothing to refer to later.
    public func createSnapshot(xml: String, flags: SnapshotCreateFlags) async throws(LibvirtError) {
        try await connection.calls.run { [self] () throws(LibvirtError) in
            guard let snapshot = virDomainSnapshotCreateXML(handle, xml, flags.rawValue) else {
                throw LibvirtError.last("cannot take a snapshot of domain \(name)")
            }
            virDomainSnapshotFree(snapshot)
        }
    }
}
