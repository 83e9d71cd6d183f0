import CGuestFS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Commands run inside the guest: chrooted into the mounted root, with the appliance's kernel.
extension Handle {
    /// `guestfs_sh`: `/bin/sh -c command` in the guest. Returns stdout; a non-zero exit status
    /// throws with the command's stderr as the message.
    public func sh(_ command: String) throws -> String {
        try takeString("sh", guestfs_sh(g, command))
    }

    /// `guestfs_command`: runs an argument vector (no shell) in the guest.
    public func command(_ arguments: [String]) throws -> String {
        onQueue()
        var cStrings: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        cStrings.append(nil)
        defer { for pointer in cStrings { free(pointer) } }
        return try takeString("command", guestfs_command(g, &cStrings))
    }
}
