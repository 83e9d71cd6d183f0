import Foundation
import KilnCore
import KilnTemplate
import Testing
@testable import KilnDrivers

@Suite("Offline worker: pure parts")
struct OfflineUnitTests {
    @Test("GeneralizePlan.describe lists each operation, the extra globs and compaction")
    func describeAll() {
        let lines = GeneralizePlan.describe(GeneralizeRequest(delete: ["/etc/secret-*"]))
        #expect(lines.count == GeneralizeOperation.allCases.count + 2)
        #expect(lines[0].hasPrefix("ssh-keys: removes the build's authorized key line"))
        #expect(lines.contains("machine-id: removes /etc/machine-id (emptied), /var/lib/dbus/machine-id"))
        #expect(lines.contains { $0.hasPrefix("ssh-host-keys: removes /etc/ssh/ssh_host_*; adds a systemd drop-in") })
        #expect(lines.contains { $0.hasPrefix("tmp-files: removes /tmp/*, /tmp/.[!.]*, /var/tmp/*") })
        #expect(lines.contains { $0.hasPrefix("apt-cache: removes /var/cache/apt/archives/*.deb") })
        #expect(lines.contains { $0.hasPrefix("logs: truncates the files under /var/log") })
        #expect(lines[lines.count - 2] == "delete: removes /etc/secret-*")
        #expect(lines.last == "compact: fstrim every filesystem so freed blocks leave the qcow2")
    }

    @Test("GeneralizePlan.describe follows the spec: kept operations, no compaction, disabled")
    func describeSubset() {
        #expect(GeneralizePlan.describe(GeneralizeRequest(operations: [.machineID], compact: false)) == [
            "machine-id: removes /etc/machine-id (emptied), /var/lib/dbus/machine-id",
            "compact: off",
        ])
        #expect(GeneralizePlan.describe(GeneralizeRequest(enabled: false)) == ["generalize: disabled"])
    }

    @Test("every operation has at least one action and a description")
    func everyOperationActs() {
        for operation in GeneralizeOperation.allCases {
            #expect(!GeneralizePlan.actions(for: operation).isEmpty)
            #expect(GeneralizePlan.summary(of: operation).count > 10)
        }
    }

    static let key = "ssh-ed25519 AAAAbuild kiln-build"

    @Test("authorized_keys: Kiln's line is added with markers and removed exactly")
    func authorizedKeysRoundTrip() {
        let existing = "ssh-rsa AAAAother me@host"
        let line = AuthorizedKeys.line(for: Self.key, createdDirectory: false, createdFile: false)
        #expect(line == "ssh-ed25519 AAAAbuild kiln-build kiln-seed")
        let added = AuthorizedKeys.adding(line, to: existing)
        #expect(added == "ssh-rsa AAAAother me@host\nssh-ed25519 AAAAbuild kiln-build kiln-seed\n")
        let removal = AuthorizedKeys.removing(key: Self.key, from: added)
        #expect(removal.text == "ssh-rsa AAAAother me@host\n")
        #expect(removal.removedLines == 1)
        #expect(!removal.createdFile && !removal.createdDirectory && !removal.removedUnmarkedLine)
    }

    @Test("authorized_keys: creation markers, and lines seeded by systemd credentials")
    func authorizedKeysMarkers() {
        let line = AuthorizedKeys.line(for: Self.key + "\n", createdDirectory: true, createdFile: true)
        #expect(line == "ssh-ed25519 AAAAbuild kiln-build kiln-seed kiln-created-dir kiln-created-file")
        let created = AuthorizedKeys.removing(key: nil, from: line + "\n")
        #expect(created.createdFile && created.createdDirectory)
        #expect(created.text.isEmpty)

        let credential = AuthorizedKeys.removing(key: nil, from: Self.key + "\n")
        #expect(credential.removedLines == 1 && credential.removedUnmarkedLine)

        let untouched = AuthorizedKeys.removing(key: "ssh-ed25519 AAAAnot-there x", from: "ssh-rsa AAAAother me@host\n")
        #expect(untouched.removedLines == 0)
        #expect(untouched.text == "ssh-rsa AAAAother me@host\n")
    }

    @Test("passwd lookup")
    func passwd() {
        let text = "root:x:0:0:root:/root:/bin/bash\nbroken line\ndeploy:x:1001:1002::/srv/deploy:/bin/sh\n"
        #expect(PasswdEntry.find("deploy", in: text) == PasswdEntry(name: "deploy", uid: 1001, gid: 1002, home: "/srv/deploy"))
        #expect(PasswdEntry.find("root", in: text)?.home == "/root")
        #expect(PasswdEntry.find("nobody", in: text) == nil)
    }

    @Test("hosts: the 127.0.1.1 line is replaced, inserted after localhost, or the file made")
    func hosts() {
        #expect(HostsFile.settingHostname("web", in: "127.0.0.1 localhost\n127.0.1.1 old.example old\n::1 ip6\n")
                == "127.0.0.1 localhost\n127.0.1.1\tweb\n::1 ip6\n")
        #expect(HostsFile.settingHostname("web", in: "127.0.0.1 localhost\n::1 ip6")
                == "127.0.0.1 localhost\n127.0.1.1\tweb\n::1 ip6\n")
        #expect(HostsFile.settingHostname("web", in: nil) == "127.0.0.1\tlocalhost\n127.0.1.1\tweb\n")
    }

    @Test("shadow: only the user's password field changes")
    func shadow() {
        let text = "root:*:19000:0:99999:7:::\nkiln:!:19000:0:99999:7:::\n"
        #expect(ShadowFile.settingPassword("$6$salt$hash", for: "root", in: text)
                == "root:$6$salt$hash:19000:0:99999:7:::\nkiln:!:19000:0:99999:7:::\n")
        #expect(ShadowFile.settingPassword("$6$x", for: "ghost", in: text) == nil)
    }

    @Test("rotated logs and journal files are recognised")
    func rotatedLogs() {
        for path in ["syslog.1", "apt/history.log.2.gz", "dpkg.log.old", "journal/abc/system.journal",
                     "journal/abc/user-1000.journal~", "messages.xz"] {
            #expect(Generalizer.isRotatedOrJournal(path), "\(path)")
        }
        for path in ["syslog", "dpkg.log", "apt/term.log", "wtmp", "journal/abc/notes.txt"] {
            #expect(!Generalizer.isRotatedOrJournal(path), "\(path)")
        }
    }

    @Test("guest paths")
    func guestPaths() {
        #expect(GuestPath.trimmed("/home/kiln/") == "/home/kiln")
        #expect(GuestPath.trimmed("/") == "/")
        #expect(GuestPath.join("/home/kiln/", ".ssh") == "/home/kiln/.ssh")
        #expect(GuestPath.join("/", ".ssh") == "/.ssh")
        #expect(GuestPath.join("/var/log", "/syslog") == "/var/log/syslog")
    }

    @Test("step titles never show the root password")
    func titles() {
        #expect(OfflineSteps.title(of: .rootPassword("hunter2")) == "root password")
        #expect(OfflineSteps.title(of: .write(path: "/etc/x", content: "c", mode: 0o600)) == "write /etc/x (mode 600)")
        #expect(OfflineSteps.title(of: .runCommand("apt-get update\napt-get -y install nginx")) == "run-command apt-get update")
    }

    @Test("preflight: a missing disk and a read-only disk fail before any appliance launch")
    func preflight() async throws {
        let missing = await #expect(throws: KilnError.self) { try await DiskPreflight.check("/nonexistent/disk.qcow2") }
        #expect(missing?.message == "disk not found: /nonexistent/disk.qcow2")
        let path = NSTemporaryDirectory() + "kiln-preflight-\(UUID().uuidString.prefix(8)).raw"
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(count: 4096), attributes: [.posixPermissions: 0o444]))
        let readOnly = await #expect(throws: KilnError.self) { try await DiskPreflight.check(path) }
        #expect(readOnly?.message.contains("disk is read-only") == true)
        #expect(readOnly?.message.contains("mode 444") == true)
    }
}
