import Foundation
import KilnCore
import KilnTemplate
import Testing
@testable import KilnDrivers

/// Real bootstraps with mmdebstrap (root, Debian's archive) and real boots under TCG.
@Suite("Base image bootstrap (integration)", .serialized,
       .enabled(if: ProcessInfo.processInfo.environment["KILN_INTEGRATION"] == "1"))
struct BaseImageBootstrapIntegrationTests {
    /// A temporary cache removed after the test; KILN_TEST_CACHE_DIR keeps one between runs instead.
    struct TestCache {
        let root: String
        private let temporary: Bool

        init() {
            if let kept = ProcessInfo.processInfo.environment["KILN_TEST_CACHE_DIR"] {
                root = kept
                temporary = false
            } else {
                root = BaseImageTempDir.unmanaged("kiln-baseimage-integration")
                temporary = true
            }
        }

        func remove() {
            if temporary { try? FileManager.default.removeItem(atPath: root) }
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func grubImageBuildsCachesAndBootsToSSH() async throws {
        let cache = TestCache()
        defer { cache.remove() }
        let store = BaseImageStore(cacheDirectory: cache.root)
        let log = BaseImageEventLog()
        let started = ContinuousClock.now
        let base = try await store.resolve(.bootstrap(BootstrapSpec(packages: ["less"])), build: "t", events: log)
        let seconds = (ContinuousClock.now - started).seconds
        print("bootstrap (grub): \(String(format: "%.1f", seconds)) s, cache hit: \(base.cacheHit); \(log.infoMessages.last ?? "")")
        #expect(base.format == "qcow2")
        #expect(base.virtualSize == 2 << 30)
        #expect(base.seedHint == .credentials)
        #expect(base.origin.hasPrefix("bootstrap debian/bookworm +less"))
        if !base.cacheHit { #expect(!log.outputLines.isEmpty) }
        let directory = (base.path as NSString).deletingLastPathComponent
        for file in ["vmlinuz", "initrd.img", "metadata.json"] {
            #expect(FileManager.default.fileExists(atPath: directory + "/" + file))
        }

        let again = ContinuousClock.now
        let second = try await store.resolve(.bootstrap(BootstrapSpec(packages: ["less"])), build: "t", events: NullEventSink())
        #expect(second.cacheHit)
        #expect(second.path == base.path)
        #expect((ContinuousClock.now - again).seconds < 5)

        // Through GRUB (no direct kernel boot): the path exported images take.
        let guest = try await BaseImageGuestBoot(disk: base.path)
        defer { guest.stop() }
        let bootSeconds = try await guest.waitForSSH(within: 240)
        print("grub image: SSH after \(String(format: "%.1f", bootSeconds)) s")
        let facts = try await guest.ssh("cat /proc/cmdline; test -s /etc/machine-id && echo machine-id-set; " +
                                        "test -f /boot/grub/grub.cfg && echo grub-cfg; command -v less; " +
                                        "awk -F: '$1==\"root\" {print \"rootpw=\" $2}' /etc/shadow")
        #expect(facts.status == 0)
        #expect(facts.output.contains("console=ttyS0"))
        #expect(facts.output.contains("machine-id-set"))  // made fresh at first boot
        #expect(facts.output.contains("grub-cfg"))
        #expect(facts.output.contains("/usr/bin/less"))
        #expect(facts.output.contains("rootpw=*") || facts.output.contains("rootpw=!"), "\(facts.output)")  // no password
        _ = try await guest.ssh("systemctl poweroff")
        #expect(await guest.waitForExit(within: 60))
        guest.stop()

        // Direct kernel boot with the kernel and initrd kept beside the image.
        let files = store.kernelFiles(for: BootstrapSpec(packages: ["less"]))
        let direct = try await BaseImageGuestBoot(disk: base.path, kernel: (files.kernel, files.initrd, files.cmdline))
        defer { direct.stop() }
        let directSeconds = try await direct.waitForSSH(within: 240)
        print("direct kernel boot: SSH after \(String(format: "%.1f", directSeconds)) s")
    }

    @Test(.timeLimit(.minutes(10)))
    func extlinuxImageBootsToSSH() async throws {
        let cache = TestCache()
        defer { cache.remove() }
        let store = BaseImageStore(cacheDirectory: cache.root)
        let started = ContinuousClock.now
        let base = try await store.resolve(.bootstrap(BootstrapSpec(bootloader: .extlinux)), build: "t", events: NullEventSink())
        print("bootstrap (extlinux): \(String(format: "%.1f", (ContinuousClock.now - started).seconds)) s, cache hit: \(base.cacheHit)")
        let guest = try await BaseImageGuestBoot(disk: base.path)
        defer { guest.stop() }
        _ = try await guest.waitForSSH(within: 240)
        let check = try await guest.ssh("test -f /boot/extlinux/extlinux.conf")
        #expect(check.status == 0)
    }

    @Test(.timeLimit(.minutes(5)))
    func cancelledBootstrapLeavesNoTemporaryTree() async throws {
        let cache = BaseImageTempDir.unmanaged("kiln-baseimage-cancel")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let store = BaseImageStore(cacheDirectory: cache)
        let log = BaseImageEventLog()
        let task = Task { try await store.resolve(.bootstrap(BootstrapSpec(packages: ["curl"])), build: "t", events: log) }
        // Cancel while mmdebstrap is working.
        for _ in 0..<300 where log.outputLines.count < 5 { try await Task.sleep(for: .milliseconds(100)) }
        task.cancel()
        let result = await task.result
        #expect(throws: (any Error).self) { try result.get() }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: cache + "/bootstrap")) ?? []
        #expect(left.filter { !$0.hasSuffix(".lock") }.isEmpty, "left behind: \(left)")
    }

    @Test(.timeLimit(.minutes(5)))
    func tinyTestImageTakesCredentialsAndPowersOff() async throws {
        let images = try await TinyTestImage.build()
        let guest = try await BaseImageGuestBoot(
            disk: images + "/tiny.qcow2", kernel: (images + "/vmlinuz", images + "/tiny-initrd.gz", "console=ttyS0 quiet"))
        defer { guest.stop() }
        let seconds = try await guest.waitForSSH(within: 120)   // with the pinned host key
        print("tiny image: SSH after \(String(format: "%.1f", seconds)) s")
        let release = try await guest.ssh("cat /etc/os-release")
        #expect(release.output.contains("Kiln tiny"))
        _ = try await guest.ssh("poweroff")
        #expect(await guest.waitForExit(within: 30))
    }
}

/// scripts/build-test-image, run from the repository this file is in.
enum TinyTestImage {
    static func build() async throws -> String {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let output = ProcessInfo.processInfo.environment["KILN_TEST_IMAGES"] ?? "/var/tmp/kiln-test-images"
        try await Subprocess.run(repository + "/scripts/build-test-image", [], environment: ["KILN_TEST_IMAGES": output])
        return output
    }
}

extension BaseImageTempDir {
    /// A fresh directory path the caller removes.
    static func unmanaged(_ prefix: String) -> String {
        NSTemporaryDirectory() + prefix + "-" + UUID().uuidString
    }
}
