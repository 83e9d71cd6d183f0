import Foundation

/// systemd credentials passed as SMBIOS OEM strings (systemd >= 252 reads them at boot): the
/// build's authorized key and the pinned host key reach the guest with no appliance launch.
///
/// A disk resumed from the step cache already holds an earlier build's keys, so the host key is
/// overwritten (`f+`) and the authorized key also appended (`w+`, which only touches an existing
/// file; creating lines and `w` lines for one path are compatible in systemd-tmpfiles).
public enum CredentialSeed {
    public static func oemStrings(username: String, authorizedKey: String, hostPrivateKey: String) -> [String] {
        let hostKey = Data(hostPrivateKey.utf8).base64EncodedString()
        let key = Data((authorizedKey + "\n").utf8).base64EncodedString()
        var tmpfiles = ["f+~ /etc/ssh/ssh_host_ed25519_key 0600 root root - \(hostKey)"]
        var strings: [String] = []
        if username == "root" {
            strings.append("io.systemd.credential:ssh.authorized_keys.root=\(authorizedKey)")
            tmpfiles.append("w+~ /root/.ssh/authorized_keys - - - - \(key)")
        } else {
            let home = "/home/\(username)"
            tmpfiles += ["d \(home)/.ssh 0700 \(username) \(username) -",
                         "f~ \(home)/.ssh/authorized_keys 0600 \(username) \(username) - \(key)",
                         "w+~ \(home)/.ssh/authorized_keys - - - - \(key)"]
        }
        if tmpfiles.count == 1 {
            strings.append("io.systemd.credential:tmpfiles.extra=\(tmpfiles[0])")
        } else {
            let lines = Data((tmpfiles.joined(separator: "\n") + "\n").utf8).base64EncodedString()
            strings.append("io.systemd.credential.binary:tmpfiles.extra=\(lines)")
        }
        return strings
    }
}
