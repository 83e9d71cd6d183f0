import Foundation
import Synchronization
import GuestFS
import KilnCore
import KilnTemplate
import Testing
@testable import KilnDrivers

private let integration = ProcessInfo.processInfo.environment["KILN_INTEGRATION"] == "1"

/// The real appliance, on disks made in the test. Each launch costs ~15 s under TCG, so each
/// test combines its checks per launch; the suite runs serially so launches do not compete.
@Suite("GuestFSDiskWorker on the libguestfs appliance", .serialized, .enabled(if: integration),
       .timeLimit(.minutes(10)))
struct OfflineWorkerTests {
    static let seed = SeedMaterial(
        username: "kiln",
        authorizedKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKilnBuildKeyForTests kiln-build",
        hostPrivateKeyOpenSSH: "-----BEGIN OPENSSH PRIVATE KEY-----\nZmFrZQ==\n-----END OPENSSH PRIVATE KEY-----",
        hostPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyForTests")
    static let userKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIUserOwnKey user@laptop"

    /// Everything generalize should find, plus what it must leave alone.
    static let dirtyFiles: [String: String] = [
        "/root/.ssh/authorized_keys": userKey + "\n",
        "/etc/ssh/ssh_host_rsa_key": "old rsa key\n",
        "/etc/ssh/ssh_host_rsa_key.pub": "ssh-rsa AAAAold\n",
        "/lib/systemd/system/ssh.service": "[Service]\nExecStartPre=/usr/sbin/sshd -t\nExecStart=/usr/sbin/sshd -D\n",
        "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
        "/var/lib/dbus/machine-id": "0123456789abcdef0123456789abcdef\n",
        "/var/lib/dhcp/dhclient.enp1s0.leases": "lease {}\n",
        "/var/log/syslog": "a log line\n",
        "/var/log/syslog.1": "an older log line\n",
        "/var/log/apt/history.log.2.gz": "gz",
        "/var/log/journal/0123/system.journal": "journal",
        "/root/.bash_history": "ls\n",
        "/home/kiln/.bash_history": "pwd\n",
        "/root/.ash_history": "id\n",
        "/tmp/junk": "junk\n",
        "/var/tmp/.hidden": "hidden\n",
        "/var/cache/apt/archives/nginx_1.22_amd64.deb": "deb",
        "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease": "release",
        "/var/lib/apt/lists/lock": "",
        "/var/lib/cloud/instance/boot-finished": "done\n",
        "/etc/extra-secret": "delete me via generalize.delete\n",
        "/etc/delete-me-1": "offline delete step\n",
        "/etc/delete-me-2": "offline delete step\n",
    ]

    @Test("prepare seeds and runs every offline step; finish generalizes, compacts and inspects")
    func prepareThenFinish() async throws {
        let fixture = try OfflineTestDisk()
        defer { fixture.remove() }
        let base = try await fixture.makeOSDisk(extraFiles: Self.dirtyFiles)
        let disk = try await fixture.makeOverlay(on: base, named: "work")
        let hostFile = "\(fixture.directory)/app.conf"
        try "setting=1\n".write(toFile: hostFile, atomically: false, encoding: .utf8)
        let hostSite = "\(fixture.directory)/site"
        try FileManager.default.createDirectory(atPath: "\(hostSite)/css", withIntermediateDirectories: true)
        try "<h1>hi</h1>\n".write(toFile: "\(hostSite)/index.html", atomically: false, encoding: .utf8)
        try "h1{}\n".write(toFile: "\(hostSite)/css/site.css", atomically: false, encoding: .utf8)

        let worker = GuestFSDiskWorker()
        let events = OfflineEventLog()
        let prepared = try await worker.prepare(disk: disk, seed: Self.seed, steps: [
            .write(path: "/etc/kiln-provisioned", content: "hello\n", mode: 0o640),
            .upload(source: hostFile, destination: "/opt/app/"),
            .upload(source: hostSite + "/", destination: "/srv/site"),
            .delete(paths: ["/etc/delete-me-*"]),
            .runCommand("echo ran > /etc/ran-offline; echo out-line"),
            // Written and then deleted by tmp-files: compaction must give the space back.
            .runCommand("dd if=/dev/urandom of=/var/tmp/big bs=1M count=40 2>/dev/null; sync"),
            .hostname("kiln-test"),
            .rootPassword("s3cret-pw"),
        ], events: events, build: "t")
        #expect(prepared.applianceLaunchSeconds > 0)
        #expect(prepared.os?.distribution == "debian")
        #expect(events.outputLines.contains("out-line"))
        #expect(!events.allText.contains("s3cret-pw"))
        print("prepare: launch \(prepared.applianceLaunchSeconds) s, phases \(prepared.phases)")

        try await OfflineInspection.withMounted(disk) { (h: Handle) throws in
            let keys = try h.readText("/home/kiln/.ssh/authorized_keys")
            #expect(keys.hasPrefix(Self.seed.authorizedKey + " kiln-seed kiln-created-dir kiln-created-file"))
            #expect(try h.lstat("/home/kiln/.ssh").permissions == 0o700)
            #expect(try h.lstat("/home/kiln/.ssh").uid == 1000)
            #expect(try h.lstat("/home/kiln/.ssh/authorized_keys").permissions == 0o600)
            #expect(try h.lstat("/home/kiln/.ssh/authorized_keys").gid == 1000)
            #expect(try h.readText("/etc/ssh/ssh_host_ed25519_key").hasSuffix("END OPENSSH PRIVATE KEY-----\n"))
            #expect(try h.lstat("/etc/ssh/ssh_host_ed25519_key").permissions == 0o600)
            #expect(try h.readText("/etc/ssh/ssh_host_ed25519_key.pub") == Self.seed.hostPublicKey + "\n")
            #expect(try h.lstat("/etc/ssh/ssh_host_ed25519_key.pub").permissions == 0o644)
            #expect(try h.isSymlink("/etc/systemd/system/multi-user.target.wants/ssh.service"))
            #expect(try h.readText("/etc/kiln-provisioned") == "hello\n")
            #expect(try h.lstat("/etc/kiln-provisioned").permissions == 0o640)
            #expect(try h.readText("/opt/app/app.conf") == "setting=1\n")
            #expect(try h.readText("/srv/site/index.html") == "<h1>hi</h1>\n")
            #expect(try h.readText("/srv/site/css/site.css") == "h1{}\n")
            #expect(try !h.exists("/etc/delete-me-1") && !h.exists("/etc/delete-me-2"))
            #expect(try h.readText("/etc/ran-offline") == "ran\n")
            #expect(try h.readText("/etc/hostname") == "kiln-test\n")
            #expect(try h.readText("/etc/hosts").contains("127.0.1.1\tkiln-test\n"))
            let shadow = try h.readText("/etc/shadow")
            #expect(shadow.hasPrefix("root:$6$"))
            #expect(shadow.contains("\nkiln:!:19000"))
            #expect(try h.exists("/var/tmp/big"))
        }

        let spec = GeneralizeRequest(delete: ["/etc/extra-*"])
        let finished = try await worker.finish(disk: disk, steps: [.write(path: "/etc/after", content: "late\n", mode: nil)],
                                               generalize: spec, seed: Self.seed, events: events, build: "t")
        print("finish: launch \(finished.applianceLaunchSeconds) s, phases \(finished.phases), size \(finished.sizeBefore ?? 0) -> \(finished.sizeAfter ?? 0)")
        print("removed: \(finished.removed)")
        let before = try #require(finished.sizeBefore), after = try #require(finished.sizeAfter)
        #expect(after + 30 << 20 < before, "fstrim should give back the 40 MiB file")
        #expect(finished.os == GuestOSInfo(osType: "linux", distribution: "debian", version: "12.8",
                                           architecture: "x86_64", hostname: "kiln-test", packageCount: 2))
        for expected in ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key", "/home/kiln/.ssh",
                         "/var/lib/dhcp/dhclient.enp1s0.leases", "/var/log/syslog.1", "/var/log/syslog (emptied)",
                         "/etc/machine-id (emptied)", "/var/tmp/big", "/etc/extra-secret"] {
            #expect(finished.removed.contains(expected), "\(expected) missing from the report")
        }
        #expect(events.infoLines.contains { $0.contains("kiln-host-keys.conf") })

        try await OfflineInspection.withMounted(disk) { (h: Handle) throws in
            #expect(try !h.exists("/home/kiln/.ssh"))
            #expect(try h.readText("/root/.ssh/authorized_keys") == Self.userKey + "\n")
            #expect(try h.globExpand("/etc/ssh/ssh_host_*").isEmpty)
            #expect(try h.readText("/etc/systemd/system/ssh.service.d/kiln-host-keys.conf").contains("ssh-keygen -A"))
            #expect(try h.readText("/etc/machine-id").isEmpty)
            #expect(try !h.exists("/var/lib/dbus/machine-id"))
            #expect(try h.ls("/var/lib/dhcp").isEmpty)
            #expect(try h.isFile("/var/log/syslog"))
            #expect(try h.lstat("/var/log/syslog").size == 0)
            #expect(try !h.exists("/var/log/syslog.1") && !h.exists("/var/log/apt/history.log.2.gz"))
            #expect(try !h.exists("/var/log/journal/0123/system.journal") && h.isDirectory("/var/log/journal/0123"))
            #expect(try !h.exists("/root/.bash_history") && !h.exists("/root/.ash_history") && !h.exists("/home/kiln/.bash_history"))
            #expect(try h.ls("/tmp").isEmpty && h.ls("/var/tmp").isEmpty)
            #expect(try h.ls("/var/cache/apt/archives").isEmpty)
            #expect(try h.ls("/var/lib/apt/lists") == ["lock"])
            #expect(try h.ls("/var/lib/cloud").isEmpty)
            #expect(try !h.exists("/etc/extra-secret"))
            // What the build provisioned stays.
            #expect(try h.readText("/etc/kiln-provisioned") == "hello\n")
            #expect(try h.readText("/etc/after") == "late\n")
            #expect(try h.isFile("/srv/site/index.html"))
        }
    }

    @Test("bad disks fail clearly: missing, read-only, no OS (left unmodified), failing command")
    func badInput() async throws {
        let fixture = try OfflineTestDisk()
        defer { fixture.remove() }
        let worker = GuestFSDiskWorker()

        let missing = await #expect(throws: KilnError.self) {
            _ = try await worker.prepare(disk: "\(fixture.directory)/nope.qcow2", seed: Self.seed, steps: [],
                                         events: NullEventSink(), build: "t")
        }
        #expect(missing?.code == .offline)
        #expect(missing?.message.contains("disk not found") == true)

        let blank = try await fixture.makeBlankDisk()
        let readOnly = "\(fixture.directory)/readonly.raw"
        try FileManager.default.copyItem(atPath: blank, toPath: readOnly)
        chmod(readOnly, 0o444)
        let denied = await #expect(throws: KilnError.self) {
            _ = try await worker.prepare(disk: readOnly, seed: Self.seed, steps: [], events: NullEventSink(), build: "t")
        }
        #expect(denied?.message.contains("read-only") == true)

        let checksum = try await OfflineTestDisk.sha256(blank)
        let noOS = await #expect(throws: KilnError.self) {
            _ = try await worker.prepare(disk: blank, seed: Self.seed, steps: [], events: NullEventSink(), build: "t")
        }
        #expect(noOS?.code == .offline)
        #expect(noOS?.message.contains("no operating system found on \(blank)") == true)
        #expect(noOS?.message.contains("ext4") == true)
        #expect(try await OfflineTestDisk.sha256(blank) == checksum)

        let os = try await fixture.makeOSDisk()
        let failed = await #expect(throws: KilnError.self) {
            _ = try await worker.prepare(disk: os, seed: nil, steps: [.runCommand("echo oops >&2; exit 3")],
                                         events: NullEventSink(), build: "t")
        }
        #expect(failed?.code == .provisioner)
        #expect(failed?.message.contains("oops") == true)
    }

    @Test("cancelling the task during a long offline command kills the appliance at once")
    func cancellation() async throws {
        let fixture = try OfflineTestDisk()
        defer { fixture.remove() }
        let disk = try await fixture.makeOSDisk()
        let canceller = CancelOnEvent(trigger: "offline: run-command sleep 120")
        let task = Task {
            try await GuestFSDiskWorker().prepare(disk: disk, seed: nil, steps: [.runCommand("sleep 120")],
                                                  events: canceller, build: "t")
        }
        canceller.task.withLock { $0 = task }
        let start = ContinuousClock.now
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(ContinuousClock.now - start < .seconds(90), "the 120 s command must not run to its end")
    }
}

/// Cancels a task when an info event with the given text arrives.
final class CancelOnEvent: EventSink, Sendable {
    let trigger: String
    let task = Mutex<Task<OfflineReport, any Error>?>(nil)

    init(trigger: String) {
        self.trigger = trigger
    }

    func emit(_ event: BuildEvent) {
        guard case .info(_, let message) = event, message == trigger else { return }
        // Give the command a moment to start in the guest.
        let task = self.task.withLock { $0 }
        DispatchQueue.global().asyncAfter(deadline: .now() + 2) { task?.cancel() }
    }
}

/// Looks at a disk from a fresh, read-only appliance.
enum OfflineInspection {
    static func withMounted(_ disk: String, _ body: @escaping @Sendable (Handle) throws -> Void) async throws {
        let handle = try Handle()
        try await handle.run { h in
            if ApplianceOptions.kvmUnusable() { try h.setBackendSetting("force_tcg", "1") }
            try h.addDrive(disk, format: "qcow2", readOnly: true)
            try h.launch()
            guard let root = try h.inspectOS().first else { throw KilnError(.offline, "no OS on \(disk)") }
            for (mountpoint, device) in try h.inspectMountpoints(root: root) {
                try h.mountReadOnly(device, at: mountpoint)
            }
            try body(h)
            try h.shutdown()
        }
    }
}

/// Collects events for assertions.
final class OfflineEventLog: EventSink, @unchecked Sendable {
    private let lock = NSLock()
    private var events: [BuildEvent] = []

    func emit(_ event: BuildEvent) {
        lock.withLock { events.append(event) }
    }

    var outputLines: [String] {
        lock.withLock {
            events.compactMap { if case .output(_, _, _, let line) = $0 { return line } else { return nil } }
        }
    }

    var infoLines: [String] {
        lock.withLock {
            events.compactMap { if case .info(_, let message) = $0 { return message } else { return nil } }
        }
    }

    var allText: String {
        lock.withLock { events.map { "\($0)" }.joined(separator: "\n") }
    }
}
