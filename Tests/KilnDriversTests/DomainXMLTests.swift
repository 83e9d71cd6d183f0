import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import KilnCore
@testable import KilnDrivers
@testable import KilnTemplate

/// Rendered domains compared byte for byte with Golden/domain-NAME.xml.
/// `KILN_UPDATE_GOLDEN=1 swift test --filter DomainXMLTests` rewrites the files.
@Suite struct DomainXMLTests {
    static let configs: [String: VMConfig] = [
        "tcg-minimal": VMConfig(
            name: "kiln-test-minimal", cpus: 1, memoryMiB: 512, accelerator: .tcg, firmware: .bios,
            diskPath: "/var/lib/kiln/builds/minimal/disk.qcow2",
            consoleLogPath: "/var/lib/kiln/builds/minimal/console.log",
            ownerPID: 4242, workDirectory: "/var/lib/kiln/builds/minimal"),
        "kvm-uefi": VMConfig(
            name: "kiln-test-uefi", cpus: 4, memoryMiB: 4096, accelerator: .kvm, firmware: .uefi,
            diskPath: "/srv/kiln/uefi/work.qcow2", consoleLogPath: "/srv/kiln/uefi/console.log",
            guestSSHPort: 2222, ownerPID: 1, workDirectory: "/srv/kiln/uefi"),
        "kernel-oem": VMConfig(
            name: "kiln-test-kernel", cpus: 2, memoryMiB: 1024, accelerator: .tcg, firmware: .bios,
            diskPath: "/tmp/kiln & co/<disk>.qcow2", consoleLogPath: "/tmp/kiln & co/console 'log'",
            kernelBoot: KernelBoot(kernel: "/tmp/kiln & co/vmlinuz", initrd: "/tmp/kiln & co/initrd.img",
                                   cmdline: "root=LABEL=root ro console=ttyS0 msg=\"a<b>&c\" x='y'"),
            smbiosOEMStrings: [
                "io.systemd.credential:ssh.authorized_keys.root=ssh-ed25519 AAAAC3Nza kiln-build",
                "io.systemd.credential:login.motd=<Kiln> & \"friends\" 'welcome'",
            ],
            ownerPID: 31337, workDirectory: "/tmp/kiln & co"),
    ]

    @Test(arguments: ["tcg-minimal", "kvm-uefi", "kernel-oem"])
    func matchesGolden(_ name: String) throws {
        let rendered = DomainXML.render(try #require(Self.configs[name]))
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Golden/domain-\(name).xml")
        if ProcessInfo.processInfo.environment["KILN_UPDATE_GOLDEN"] == "1" {
            try rendered.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(rendered == expected, "rendered XML differs from \(golden.path); KILN_UPDATE_GOLDEN=1 rewrites it")
    }

    @Test(arguments: ["tcg-minimal", "kvm-uefi", "kernel-oem"])
    func isWellFormedAndKeepsValues(_ name: String) throws {
        let config = try #require(Self.configs[name])
        let document = try XMLDocument(xmlString: DomainXML.render(config))
        func strings(_ xpath: String) throws -> [String] {
            try document.nodes(forXPath: xpath).compactMap(\.stringValue)
        }
        #expect(try strings("/domain/@type") == [config.accelerator == .kvm ? "kvm" : "qemu"])
        #expect(try strings("/domain/name") == [config.name])
        #expect(try strings("/domain/devices/disk/source/@file") == [config.diskPath])
        #expect(try strings("/domain/devices/serial/source/@path") == [config.consoleLogPath])
        #expect(try strings("/domain/sysinfo/oemStrings/entry") == config.smbiosOEMStrings)
        #expect(try strings("/domain/os/cmdline") == (config.kernelBoot.map { [$0.cmdline] } ?? []))
        #expect(try strings("/domain/os/@firmware") == (config.firmware == .uefi ? ["efi"] : []))
        #expect(try strings("/domain/os/nvram") == (config.firmware == .uefi ? [config.workDirectory + "/efivars.fd"] : []))
        let netdev = "user,id=kiln0,hostfwd=tcp:127.0.0.1:0-:\(config.guestSSHPort)"
        #expect(try strings("/domain/*[local-name()='commandline']/*/@value").contains(netdev))
    }

    @Test func metadataRoundTrips() throws {
        let config = try #require(Self.configs["kernel-oem"])
        let lines = BuildMetadata(ownerPID: config.ownerPID, workDirectory: config.workDirectory)
            .elementLines(indent: "")
        let parsed = BuildMetadata.parse(lines.joined(separator: "\n"))
        #expect(parsed == BuildMetadata(ownerPID: 31337, workDirectory: "/tmp/kiln & co"))
    }

    @Test func metadataIsReadFromLibvirtsSerialization() {
        // virDomainGetMetadata hands the element back re-serialized, with double quotes.
        let fromLibvirt = """
            <kiln:build xmlns:kiln="https://kiln.dev/xmlns/build/1">
              <kiln:pid>
                977
              </kiln:pid>
              <kiln:workdir>/work/a &amp; b/&#x41;</kiln:workdir>
            </kiln:build>
            """
        #expect(BuildMetadata.parse(fromLibvirt) == BuildMetadata(ownerPID: 977, workDirectory: "/work/a & b/A"))
        let unprefixed = "<build xmlns=\"https://kiln.dev/xmlns/build/1\"><pid>5</pid><workdir/></build>"
        #expect(BuildMetadata.parse(unprefixed) == BuildMetadata(ownerPID: 5, workDirectory: ""))
        #expect(BuildMetadata.parse("<kiln:build><kiln:workdir>/x</kiln:workdir></kiln:build>") == nil)
        #expect(BuildMetadata.parse("<kiln:build><kiln:pid>abc</kiln:pid></kiln:build>") == nil)
    }

    @Test func escapesEveryMarkupCharacter() {
        #expect(XMLEscape.escape("a&b<c>d'e\"f") == "a&amp;b&lt;c&gt;d&apos;e&quot;f")
        #expect(XMLEscape.unescape("a&amp;b&lt;c&gt;d&apos;e&quot;f&#65;&#x42;&unknown;") == "a&b<c>d'e\"fAB&unknown;")
    }
}
