import CGuestFS

/// Operating system inspection (`guestfs_inspect_*`).
extension Handle {
    /// `guestfs_inspect_os`: the root filesystems of the operating systems found (often one).
    public func inspectOS() throws -> [String] {
        try takeStringList("inspect_os", guestfs_inspect_os(g))
    }

    /// "linux", "windows", "freebsd", ..., or "unknown".
    public func inspectType(root: String) throws -> String {
        try takeString("inspect_get_type", guestfs_inspect_get_type(g, root))
    }

    /// "debian", "ubuntu", "fedora", ..., or "unknown".
    public func inspectDistro(root: String) throws -> String {
        try takeString("inspect_get_distro", guestfs_inspect_get_distro(g, root))
    }

    public func inspectMajorVersion(root: String) throws -> Int {
        let version = guestfs_inspect_get_major_version(g, root)
        try check("inspect_get_major_version", version)
        return Int(version)
    }

    public func inspectMinorVersion(root: String) throws -> Int {
        let version = guestfs_inspect_get_minor_version(g, root)
        try check("inspect_get_minor_version", version)
        return Int(version)
    }

    /// "x86_64", "aarch64", ..., or "unknown".
    public func inspectArch(root: String) throws -> String {
        try takeString("inspect_get_arch", guestfs_inspect_get_arch(g, root))
    }

    /// The hostname configured in the guest, or "unknown".
    public func inspectHostname(root: String) throws -> String {
        try takeString("inspect_get_hostname", guestfs_inspect_get_hostname(g, root))
    }

    /// "deb", "rpm", ..., or "unknown".
    public func inspectPackageFormat(root: String) throws -> String {
        try takeString("inspect_get_package_format", guestfs_inspect_get_package_format(g, root))
    }

    /// Mount point -> device, ordered so that mounting in turn works (shortest mount point first).
    public func inspectMountpoints(root: String) throws -> [(mountpoint: String, device: String)] {
        let flat = try takeStringList("inspect_get_mountpoints", guestfs_inspect_get_mountpoints(g, root))
        var pairs: [(mountpoint: String, device: String)] = []
        var index = 0
        while index + 1 < flat.count {
            pairs.append((flat[index], flat[index + 1]))
            index += 2
        }
        return pairs.sorted { ($0.mountpoint.count, $0.mountpoint) < ($1.mountpoint.count, $1.mountpoint) }
    }

    /// The number of installed applications (packages) `guestfs_inspect_list_applications2` finds.
    public func inspectApplicationCount(root: String) throws -> Int {
        onQueue()
        guard let list = guestfs_inspect_list_applications2(g, root) else {
            throw lastError("inspect_list_applications2")
        }
        defer { guestfs_free_application2_list(list) }
        return Int(list.pointee.len)
    }

    /// `guestfs_list_filesystems`: device -> filesystem type ("ext4", "swap", "unknown", ...).
    public func listFilesystems() throws -> [(device: String, type: String)] {
        let flat = try takeStringList("list_filesystems", guestfs_list_filesystems(g))
        return stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0], flat[$0 + 1]) }
    }

    /// `guestfs_vfs_type`: the filesystem type of a mountable ("" when none is recognised).
    public func vfsType(_ mountable: String) throws -> String {
        try takeString("vfs_type", guestfs_vfs_type(g, mountable))
    }
}
