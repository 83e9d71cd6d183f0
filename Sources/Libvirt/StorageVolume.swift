import CLibvirt
import Glibc

/// A `virStorageVolPtr`, freed in `deinit`. Keeps its `Connection` alive; its calls run on the
/// connection's call queue (see `Connection` for why this is `@unchecked Sendable`).
public final class StorageVolume: @unchecked Sendable {
    let handle: OpaquePointer
    public let connection: Connection
    public let name: String

    init(handle: OpaquePointer, connection: Connection) {
        self.handle = handle
        self.connection = connection
        self.name = virStorageVolGetName(handle).map { String(cString: $0) } ?? ""
    }

    deinit {
        virStorageVolFree(handle)
    }

    /// `virStorageVolGetPath`: the volume's path on the hypervisor's host.
    public func path() async throws(LibvirtError) -> String {
        try await connection.calls.run { [self] () throws(LibvirtError) -> String in
            guard let path = virStorageVolGetPath(handle) else {
                throw LibvirtError.last("cannot read the path of volume \(name)")
            }
            defer { free(path) }
            return String(cString: path)
        }
    }

    /// `virStorageVolGetInfoFlags`. With `physical`, `allocation` is the size of the file itself
    /// rather than the space it uses.
    public func info(physical: Bool = false) async throws(LibvirtError) -> StorageVolumeInfo {
        try await connection.calls.run { [self] () throws(LibvirtError) -> StorageVolumeInfo in
            var info = virStorageVolInfo()
            let flags = physical ? UInt32(VIR_STORAGE_VOL_GET_PHYSICAL.rawValue) : 0
            guard virStorageVolGetInfoFlags(handle, &info, flags) == 0 else {
                throw LibvirtError.last("cannot read volume \(name)")
            }
            return StorageVolumeInfo(type: info.type, capacity: UInt64(info.capacity), allocation: UInt64(info.allocation))
        }
    }

    /// `virStorageVolDelete`.
    public func delete() async throws(LibvirtError) {
        try await connection.calls.run { [self] () throws(LibvirtError) in
            guard virStorageVolDelete(handle, 0) == 0 else {
                throw LibvirtError.last("cannot delete volume \(name)")
            }
        }
    }

    /// `virStorageVolUpload`: the volume's content from `offset` (for `length` bytes, 0 for all
    /// that comes) will be what is sent on `stream`; send it, then `finish()` the stream.
    public func upload(to stream: Stream, offset: UInt64 = 0, length: UInt64 = 0,
                       flags: VolumeTransferFlags = []) async throws(LibvirtError) {
        try await connection.calls.run { [self] () throws(LibvirtError) in
            guard virStorageVolUpload(handle, stream.handle, offset, length, flags.rawValue) == 0 else {
                throw LibvirtError.last("cannot start uploading to volume \(name)")
            }
        }
    }

    /// `virStorageVolDownload`: the volume's content from `offset` (for `length` bytes, 0 for
    /// the rest) arrives on `stream`; receive it, then `finish()` the stream.
    public func download(from stream: Stream, offset: UInt64 = 0, length: UInt64 = 0,
                         flags: VolumeTransferFlags = []) async throws(LibvirtError) {
        try await connection.calls.run { [self] () throws(LibvirtError) in
            guard virStorageVolDownload(handle, stream.handle, offset, length, flags.rawValue) == 0 else {
                throw LibvirtError.last("cannot start downloading volume \(name)")
            }
        }
    }
}

/// `virStorageVolInfo`.
public struct StorageVolumeInfo: Sendable, Equatable {
    /// A `virStorageVolType` (0 file, 1 block, ...).
    public var type: Int32
    /// The logical size: a qcow2 file's virtual size, a raw file's length.
    public var capacity: UInt64
    public var allocation: UInt64
}

/// `virStorageVolUploadFlags` / `virStorageVolDownloadFlags` (they share their one value).
public struct VolumeTransferFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Holes travel as lengths instead of zeros (the stream must then be sent or received with
    /// the sparse calls). Since libvirt 3.4.
    public static let sparse = VolumeTransferFlags(rawValue: VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM.rawValue)
}
