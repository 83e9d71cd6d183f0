import KilnCore

/// Renders the libvirt domain for one build VM. Pure: the same config gives the same bytes.
///
/// Choices worth knowing:
/// - Machine `pc` (i440fx): the type measured on this host (see the reference domain). The
///   hand-added NIC goes straight onto its root bus (no PCIe root ports to manage), and for
///   `firmware='efi'` libvirt auto-selects plain OVMF (OVMF_CODE_4M.fd, verified here): the
///   secure-boot builds need q35 with SMM, which a build VM does not want.
/// - Networking is QEMU user-mode, added through `<qemu:commandline>` because libvirt 9.0
///   ignores `<portForward>` on user interfaces. The host port is 0, so the host kernel picks
///   a free one atomically; it is read back with the HMP command `info usernet`.
/// - The NIC gets PCI slot 0x1f: QEMU would otherwise put it in slot 2, which libvirt has
///   already given to the disk, and refuse to start.
/// - `<seclabel type='static' model='dac' relabel='no'>` with label `+0:+0`: QEMU runs as root
///   and libvirt never re-owns the work disk or kernel files. With `type='none'` QEMU runs as
///   libvirt-qemu, which cannot open a disk inside a build's 0700 work directory.
public enum DomainXML {
    static let qemuNamespaceURI = "http://libvirt.org/schemas/domain/qemu/1.0"
    /// The `-netdev` id of the user-mode network, as it appears in `info usernet`.
    static let netdevID = "kiln0"
    /// The last slot of the i440fx root bus, far from the ones libvirt hands out from slot 2 up.
    static let nicSlot = "0x1f"

    /// `ownerHost`: recorded in the metadata for domains on a remote host (see `BuildMetadata`).
    public static func render(_ config: VMConfig, ownerHost: String? = nil) -> String {
        var lines: [String] = []
        let type = config.accelerator == .kvm ? "kvm" : "qemu"
        lines.append("<domain type='\(type)' xmlns:qemu='\(qemuNamespaceURI)'>")
        lines.append("  <name>\(escape(config.name))</name>")
        lines.append("  <metadata>")
        lines += BuildMetadata(ownerPID: config.ownerPID, workDirectory: config.workDirectory, ownerHost: ownerHost)
            .elementLines(indent: "    ")
        lines.append("  </metadata>")
        lines.append("  <memory unit='MiB'>\(config.memoryMiB)</memory>")
        lines.append("  <vcpu>\(config.cpus)</vcpu>")
        lines += sysinfo(config.smbiosOEMStrings)
        lines += os(config)
        lines.append("  <features>")
        lines.append("    <acpi/>")
        lines.append("    <apic/>")
        lines.append("  </features>")
        if config.accelerator == .kvm {
            lines.append("  <cpu mode='host-passthrough'/>")
        }
        lines.append("  <clock offset='utc'/>")
        lines.append("  <on_poweroff>destroy</on_poweroff>")
        lines.append("  <on_reboot>restart</on_reboot>")
        lines.append("  <on_crash>destroy</on_crash>")
        lines += devices(config)
        lines.append("  <seclabel type='static' model='dac' relabel='no'>")
        lines.append("    <label>+0:+0</label>")
        lines.append("  </seclabel>")
        lines += userNetwork(guestPort: config.guestSSHPort)
        lines.append("</domain>")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func sysinfo(_ oemStrings: [String]) -> [String] {
        guard !oemStrings.isEmpty else { return [] }
        return ["  <sysinfo type='smbios'>", "    <oemStrings>"]
            + oemStrings.map { "      <entry>\(escape($0))</entry>" }
            + ["    </oemStrings>", "  </sysinfo>"]
    }

    private static func os(_ config: VMConfig) -> [String] {
        var lines = [config.firmware == .uefi ? "  <os firmware='efi'>" : "  <os>"]
        lines.append("    <type arch='x86_64' machine='pc'>hvm</type>")
        if config.firmware == .uefi {
            lines.append("    <nvram>\(escape(efiVariablesPath(config)))</nvram>")
        }
        if let boot = config.kernelBoot {
            lines.append("    <kernel>\(escape(boot.kernel))</kernel>")
            if let initrd = boot.initrd {
                lines.append("    <initrd>\(escape(initrd))</initrd>")
            }
            lines.append("    <cmdline>\(escape(boot.cmdline))</cmdline>")
        } else {
            lines.append("    <boot dev='hd'/>")
        }
        if !config.smbiosOEMStrings.isEmpty {
            lines.append("    <smbios mode='sysinfo'/>")
        }
        lines.append("  </os>")
        return lines
    }

    /// In the work directory, so it goes with it; by default libvirt would keep one file per
    /// domain name in /var/lib/libvirt/qemu/nvram forever, even for transient domains.
    static func efiVariablesPath(_ config: VMConfig) -> String {
        config.workDirectory + (config.workDirectory.hasSuffix("/") ? "" : "/") + "efivars.fd"
    }

    private static func devices(_ config: VMConfig) -> [String] {
        let log = escape(config.consoleLogPath)
        return [
            "  <devices>",
            "    <disk type='file' device='disk'>",
            "      <driver name='qemu' type='\(escape(config.diskFormat))' cache='unsafe' discard='unmap'/>",
            "      <source file='\(escape(config.diskPath))'/>",
            "      <target dev='vda' bus='virtio'/>",
            "    </disk>",
            "    <serial type='file'>",
            "      <source path='\(log)'/>",
            "      <target port='0'/>",
            "    </serial>",
            "    <console type='file'>",
            "      <source path='\(log)'/>",
            "      <target type='serial' port='0'/>",
            "    </console>",
            "    <rng model='virtio'>",
            "      <backend model='random'>/dev/urandom</backend>",
            "    </rng>",
            "    <controller type='usb' model='none'/>",
            "    <video>",
            "      <model type='none'/>",
            "    </video>",
            "    <memballoon model='none'/>",
            "  </devices>",
        ]
    }

    private static func userNetwork(guestPort: Int) -> [String] {
        let arguments = [
            "-netdev", "user,id=\(netdevID),hostfwd=tcp:127.0.0.1:0-:\(guestPort)",
            "-device", "virtio-net-pci,netdev=\(netdevID),addr=\(nicSlot)",
        ]
        return ["  <qemu:commandline>"]
            + arguments.map { "    <qemu:arg value='\(escape($0))'/>" }
            + ["  </qemu:commandline>"]
    }

    private static func escape(_ text: String) -> String { XMLEscape.escape(text) }
}
