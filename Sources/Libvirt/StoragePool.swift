import CLibvirt
import Glibc

/// A `virStoragePoolPtr`, freed in `deinit`. Keeps its `Connection` alive; its calls run on the
/// connection's call queue (see `Connection` for why this is `@unchecked Sendable`).
public final class StoragePool: @unchecked Sendable {
    let handle: OpaquePointer
    public let connection: Connection
    public let name: String

    init(handle: OpaquePointer, connection: Connection) {
        self.handle = handle
        self.connection = connection
        // virStoragePoolGetName reads the handle's own copy; no round trip to the daemon.
        self.name = virStoragePoolGetName(handle).map { String(cString: $0) } ?? ""
    }

    deinit {
        virStoragePoolFree(handle)
    }

    /// `virStoragePoolBuild`: creates the pool's underlying storage (a directory for `dir` pools,
    /// its parents included).
    public func build(flags: StoragePoolBuildFlags = []) async throws(LibvirtError) {
        try await connection.calls.run { [self] () throws(LibvirtError) in
            guard virStoragePoolBuild(handle, flags.rawValue) == 0 else {
                throw LibvirtError.last("cannot build storage pool \(name)")
            }
        }
    }

    /// `virStoragePoolCreate`: starts a defined (inactive) pool.
    public func start(flags: StoragePoolCreateFlags = []) async throws(LibvirtError) {
        try await connection.calls.run { [self] () throws(LibvirtError) in
            guard virStoragePoolCreate(handle, flags.rawValue) == 0 else {
                throw LibvirtError.last("cannot start storage pool \(name)")
            }
        }
    }

    /// `virStoragePoolDestroy`: stops the pool; the data stays. A transient pool disappears.
    public func destroy() async throws(LibvirtError) {
        try await connection.calls.run { [self] () throws(LibvirtError) in
            guard virStoragePoolDestroy(handle) == 0 else {
                throw LibvirtError.last("cannot stop storage pool \(name)")
            }
        }
    }

    /// `virStoragePoolDelete`: removes the underlying storage (rmdir for `dir` pools, which must
    /// be empty). Only for an inactive pool, so a transient pool can never delete its directory.
    public func delete() async throws(LibvirtError) {
        try await connection.calls.run { [self] () throws(LibvirtError) in
            guard virStoragePoolDelete(handle, 0) == 0 else {
                throw LibvirtError.last("cannot delete storage pool \(name)")
            }
        }
    }

    /// `virStoragePoolUndefine`: forgets a persistent pool's configuration.
    public func undefine() async throws(LibvirtError) {
        try await connection.calls.run { [self] () throws(LibvirtError) in
            guard virStoragePoolUndefine(handle) == 0 else {
                throw LibvirtError.last("cannot undefine storage pool \(name)")
            }
        }
    }

    /// `virStoragePoolRefresh`: rescans the pool, so files created behind libvirt's back
    /// (a console log, UEFI variables) become volumes.
    public func refresh() async throws(LibvirtError) {
        try await connection.calls.run { [self] () throws(LibvirtError) in
            guard virStoragePoolRefresh(handle, 0) == 0 else {
                throw LibvirtError.last("cannot refresh storage pool \(name)")
            }
        }
    }

    /// `virStoragePoolIsActive`.
    public func isActive() async throws(LibvirtError) -> Bool {
        try await connection.calls.run { [self] () throws(LibvirtError) -> Bool in
            let active = virStoragePoolIsActive(handle)
            guard active >= 0 else { throw LibvirtError.last("cannot read the state of storage pool \(name)") }
            return active == 1
        }
    }

    /// `virStoragePoolIsPersistent`.
    public func isPersistent() async throws(LibvirtError) -> Bool {
        try await connection.calls.run { [self] () throws(LibvirtError) -> Bool in
            let persistent = virStoragePoolIsPersistent(handle)
            guard persistent >= 0 else { throw LibvirtError.last("cannot read storage pool \(name)") }
            return persistent == 1
        }
    }

    /// `virStoragePoolGetXMLDesc`.
    public func xmlDescription() async throws(LibvirtError) -> String {
        try await connection.calls.run { [self] () throws(LibvirtError) -> String in
            guard let xml = virStoragePoolGetXMLDesc(handle, 0) else {
                throw LibvirtError.last("cannot read the XML of storage pool \(name)")
            }
            defer { free(xml) }
            return String(cString: xml)
        }
    }

    /// `virStorageVolCreateXML`: a new volume described by `xml`.
    public func createVolume(xml: String) async throws(LibvirtError) -> StorageVolume {
        let created = try await connection.calls.run { [self] () throws(LibvirtError) -> UncheckedHandle in
            guard let volume = virStorageVolCreateXML(handle, xml, 0) else {
                throw LibvirtError.last("cannot create a volume in storage pool \(name)")
            }
            return UncheckedHandle(volume)
        }
        return StorageVolume(handle: created.pointer, connection: connection)
    }

    /// `virStorageVolLookupByName`; throws an error whose `isNoStorageVolume` is true when there is none.
    public func lookupVolume(named volumeName: String) async throws(LibvirtError) -> StorageVolume {
        let found = try await connection.calls.run { [self] () throws(LibvirtError) -> UncheckedHandle in
            guard let volume = virStorageVolLookupByName(handle, volumeName) else {
                throw LibvirtError.last("cannot find volume \(volumeName) in storage pool \(name)")
            }
            return UncheckedHandle(volume)
        }
        return StorageVolume(handle: found.pointer, connection: connection)
    }

    /// `virStoragePoolListAllVolumes`: the volumes libvirt knows of (call `refresh()` first to
    /// see files made outside libvirt).
    public func listAllVolumes() async throws(LibvirtError) -> [StorageVolume] {
        let handles = try await connection.calls.run { [self] () throws(LibvirtError) -> [UncheckedHandle] in
            var list: UnsafeMutablePointer<virStorageVolPtr?>?
            let count = virStoragePoolListAllVolumes(handle, &list, 0)
            guard count >= 0 else { throw LibvirtError.last("cannot list the volumes of storage pool \(name)") }
            defer { free(list) }
            return (0..<Int(count)).compactMap { index in list?[index].map(UncheckedHandle.init) }
        }
        return handles.map { StorageVolume(handle: $0.pointer, connection: connection) }
    }
}

extension Connection {
    /// `virStoragePoolDefineXML`: a persistent, inactive pool.
    public func defineStoragePool(xml: String) async throws(LibvirtError) -> StoragePool {
        let defined = try await calls.run { [self] () throws(LibvirtError) -> UncheckedHandle in
            guard let pool = virStoragePoolDefineXML(handle, xml, 0) else {
                throw LibvirtError.last("cannot define the storage pool")
            }
            return UncheckedHandle(pool)
        }
        return StoragePool(handle: defined.pointer, connection: self)
    }

    /// `virStoragePoolCreateXML`: a transient pool, started at once (built first with `.build`).
    public func createStoragePool(xml: String, flags: StoragePoolCreateFlags = []) async throws(LibvirtError) -> StoragePool {
        let created = try await calls.run { [self] () throws(LibvirtError) -> UncheckedHandle in
            guard let pool = virStoragePoolCreateXML(handle, xml, flags.rawValue) else {
                throw LibvirtError.last("cannot create the storage pool")
            }
            return UncheckedHandle(pool)
        }
        return StoragePool(handle: created.pointer, connection: self)
    }

    /// `virStoragePoolLookupByName`; throws an error whose `isNoStoragePool` is true when there is none.
    public func lookupStoragePool(named name: String) async throws(LibvirtError) -> StoragePool {
        let found = try await calls.run { [self] () throws(LibvirtError) -> UncheckedHandle in
            guard let pool = virStoragePoolLookupByName(handle, name) else {
                throw LibvirtError.last("cannot find storage pool \(name)")
            }
            return UncheckedHandle(pool)
        }
        return StoragePool(handle: found.pointer, connection: self)
    }

    /// `virConnectListAllStoragePools`: active and inactive, persistent and transient.
    public func listAllStoragePools() async throws(LibvirtError) -> [StoragePool] {
        let handles = try await calls.run { [self] () throws(LibvirtError) -> [UncheckedHandle] in
            var list: UnsafeMutablePointer<virStoragePoolPtr?>?
            let count = virConnectListAllStoragePools(handle, &list, 0)
            guard count >= 0 else { throw LibvirtError.last("cannot list storage pools") }
            defer { free(list) }
            return (0..<Int(count)).compactMap { index in list?[index].map(UncheckedHandle.init) }
        }
        return handles.map { StoragePool(handle: $0.pointer, connection: self) }
    }
}
