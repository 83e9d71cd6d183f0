import CGuestFS

/// Configuring, adding drives to, launching and stopping the appliance.
extension Handle {
    /// `guestfs_set_backend_setting`: e.g. `("force_tcg", "1")` when KVM cannot be used.
    /// Boolean settings need a true value: libguestfs 1.48 fails `launch` with no message on "".
    public func setBackendSetting(_ name: String, _ value: String) throws {
        try check("set_backend_setting", guestfs_set_backend_setting(g, name, value))
    }

    /// `guestfs_get_backend_settings`.
    public func backendSettings() throws -> [String] {
        try takeStringList("get_backend_settings", guestfs_get_backend_settings(g))
    }

    /// `guestfs_set_memsize`, in MiB.
    public func setMemorySize(_ mebibytes: Int) throws {
        try check("set_memsize", guestfs_set_memsize(g, Int32(mebibytes)))
    }

    /// `guestfs_set_smp`.
    public func setCPUs(_ count: Int) throws {
        try check("set_smp", guestfs_set_smp(g, Int32(count)))
    }

    /// `guestfs_set_trace`: print every call on stderr.
    public func setTrace(_ enabled: Bool) throws {
        try check("set_trace", guestfs_set_trace(g, enabled ? 1 : 0))
    }

    /// How the appliance may pass the guest's discards (TRIM) down to the disk image.
    public enum Discard: String, Sendable {
        case disable, enable, besteffort
    }

    /// `guestfs_add_drive_opts` (through its `_argv` form).
    /// - Parameters:
    ///   - format: e.g. "qcow2" or "raw"; nil lets libguestfs probe (unsafe for untrusted raw images).
    ///   - discard: `.besteffort` lets `fstrim` shrink a qcow2 file.
    public func addDrive(_ path: String, format: String? = nil, readOnly: Bool = false,
                         discard: Discard? = nil) throws {
        var options = guestfs_add_drive_opts_argv()
        options.readonly = readOnly ? 1 : 0
        options.bitmask |= 1 << UInt64(GUESTFS_ADD_DRIVE_OPTS_READONLY)
        let result: Int32 = withOptionalCString(format) { formatPointer in
            withOptionalCString(discard?.rawValue) { discardPointer in
                if let formatPointer {
                    options.format = formatPointer
                    options.bitmask |= 1 << UInt64(GUESTFS_ADD_DRIVE_OPTS_FORMAT)
                }
                if let discardPointer {
                    options.discard = discardPointer
                    options.bitmask |= 1 << UInt64(GUESTFS_ADD_DRIVE_OPTS_DISCARD)
                }
                return guestfs_add_drive_opts_argv(g, path, &options)
            }
        }
        try check("add_drive_opts", result)
    }

    /// `guestfs_launch`: boots the appliance (seconds; minutes the first time, building its cache).
    public func launch() throws {
        try check("launch", guestfs_launch(g))
    }

    /// `guestfs_get_pid`: the appliance's process (the direct backend's qemu), once launched.
    public func processID() throws -> Int32 {
        let pid = guestfs_get_pid(g)
        try check("get_pid", pid)
        return pid
    }

    /// `guestfs_shutdown`: syncs and stops the appliance cleanly; errors here mean writes may be lost.
    public func shutdown() throws {
        try check("shutdown", guestfs_shutdown(g))
    }
}

func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
