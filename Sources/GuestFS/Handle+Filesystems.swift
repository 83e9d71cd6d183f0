import CGuestFS

/// Mounting, trimming, syncing and measuring filesystems.
extension Handle {
    /// `guestfs_mount` (read-write) of a device at a path inside the appliance's root.
    public func mount(_ mountable: String, at mountpoint: String) throws {
        try check("mount", guestfs_mount(g, mountable, mountpoint))
    }

    /// `guestfs_mount_ro`.
    public func mountReadOnly(_ mountable: String, at mountpoint: String) throws {
        try check("mount_ro", guestfs_mount_ro(g, mountable, mountpoint))
    }

    /// `guestfs_umount_all`.
    public func unmountAll() throws {
        try check("umount_all", guestfs_umount_all(g))
    }

    /// `guestfs_fstrim` of the whole filesystem mounted at `mountpoint`.
    public func fstrim(_ mountpoint: String) throws {
        var options = guestfs_fstrim_argv()
        options.bitmask = 0
        try check("fstrim", guestfs_fstrim_argv(g, mountpoint, &options))
    }

    /// `guestfs_sync`.
    public func sync() throws {
        try check("sync", guestfs_sync(g))
    }

    /// `guestfs_statvfs` of the filesystem holding `path`.
    public func statvfs(_ path: String) throws -> FilesystemUsage {
        onQueue()
        guard let stat = guestfs_statvfs(g, path) else { throw lastError("statvfs") }
        defer { guestfs_free_statvfs(stat) }
        let s = stat.pointee
        return FilesystemUsage(blockSize: s.frsize, blocks: s.blocks, freeBlocks: s.bfree, availableBlocks: s.bavail)
    }
}

/// What `statvfs` reports, in blocks of `blockSize` bytes.
public struct FilesystemUsage: Sendable, Equatable {
    public var blockSize: Int64
    public var blocks: Int64
    public var freeBlocks: Int64
    public var availableBlocks: Int64
    public var usedBytes: Int64 { (blocks - freeBlocks) * blockSize }
}
