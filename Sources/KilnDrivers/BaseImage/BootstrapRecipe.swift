import Foundation
import KilnTemplate

/// What Kiln builds for a `bootstrap:` source, as pure data: the mmdebstrap command line, the
/// cache key and the files laid over the root tree. Bump `version` whenever the result changes.
struct BootstrapRecipe: Sendable, Equatable {
    static let version = 1
    static let kernelCmdline = "root=LABEL=root ro console=ttyS0 net.ifnames=0"
    static let basePackages = ["linux-image-amd64", "systemd-sysv", "udev", "openssh-server",
                               "systemd-resolved", "iproute2", "kmod", "initramfs-tools"]
    /// Modules the initramfs needs to find and mount the root disk (MODULES=list).
    static let initramfsModules = ["virtio_pci", "virtio_blk", "virtio_scsi", "sd_mod", "ata_piix", "ahci",
                                   "ext4", "crc32c_generic"]
    /// Kernel modules kept in the image (paths under /lib/modules/*/kernel); the rest are not installed.
    static let keptModules = [
        "drivers/virtio/*", "drivers/block/virtio_blk.ko", "drivers/net/virtio_net.ko", "drivers/net/net_failover.ko",
        "net/core/failover.ko", "drivers/net/ethernet/intel/e1000/*", "drivers/char/hw_random/virtio-rng.ko",
        "drivers/char/virtio_console.ko", "drivers/scsi/scsi_mod.ko", "drivers/scsi/scsi_common.ko",
        "drivers/scsi/sd_mod.ko", "drivers/scsi/virtio_scsi.ko", "drivers/scsi/sr_mod.ko", "drivers/cdrom/*",
        "drivers/ata/libata.ko", "drivers/ata/ata_piix.ko", "drivers/ata/ahci.ko", "drivers/ata/libahci.ko",
        "drivers/ata/ata_generic.ko", "fs/ext4/*", "fs/jbd2/*", "fs/mbcache.ko", "fs/autofs/*", "fs/fuse/*",
        "fs/isofs/*", "lib/crc16.ko", "lib/libcrc32c.ko", "crypto/crc32c_generic.ko", "arch/x86/crypto/crc32c-intel.ko",
        "net/vmw_vsock/*", "drivers/input/serio/*", "drivers/input/mouse/psmouse.ko", "drivers/input/evdev.ko",
        "drivers/acpi/button.ko",
    ]
    static let maskedUnits = ["systemd-networkd-wait-online.service", "e2scrub_reap.service", "e2scrub_all.timer",
                              "fstrim.timer", "apt-daily.timer", "apt-daily-upgrade.timer"]

    var spec: BootstrapSpec

    /// "debian/bookworm +nginx +curl (grub)": for the build output and `kiln cache list`.
    var summary: String {
        let extra = spec.packages.sorted().map { " +" + $0 }.joined()
        return "\(spec.distribution)/\(spec.suite)\(extra) (\(spec.bootloader.rawValue), \(spec.size >> 20) MiB)"
    }

    /// Identifies the result: every input that changes the image, and the recipe version.
    var cacheKey: String {
        let canonical = [
            "recipe=\(Self.version)", "distribution=\(spec.distribution)", "suite=\(spec.suite)",
            "packages=\(Set(spec.packages).sorted().joined(separator: ","))", "mirror=\(spec.mirror)",
            "bootloader=\(spec.bootloader.rawValue)", "size=\(spec.size)",
        ].joined(separator: "\n")
        return StreamingDigest.hex(sha256Of: canonical)
    }

    /// Package sources: the mirror's suite and -updates, plus the security archive for releases
    /// when the default mirror is used.
    var sources: [String] {
        var lines = ["deb \(spec.mirror) \(spec.suite) main", "deb \(spec.mirror) \(spec.suite)-updates main"]
        if spec.mirror == "http://deb.debian.org/debian", !["sid", "unstable", "experimental"].contains(spec.suite) {
            lines.append("deb http://deb.debian.org/debian-security \(spec.suite)-security main")
        }
        return lines
    }

    /// mmdebstrap's arguments. `essentialOverlay` / `customizeOverlay` are host directories copied
    /// over the root tree before the packages are installed (initramfs settings) and at the end.
    func mmdebstrapArguments(rootfs: String, essentialOverlay: String, customizeOverlay: String) -> [String] {
        let modulesDir = "/lib/modules/*/kernel"
        var args = ["--variant=minbase", "--mode=root", "--format=directory",
                    "--include=" + (Self.basePackages + spec.packages.sorted()).joined(separator: ","),
                    "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
                    "--dpkgopt=path-include=/usr/share/doc/*/copyright", "--dpkgopt=path-exclude=/usr/share/locale/*",
                    "--dpkgopt=path-exclude=/usr/share/info/*", "--dpkgopt=path-exclude=\(modulesDir)/*"]
        args += Self.keptModules.map { "--dpkgopt=path-include=\(modulesDir)/\($0)" }
        args.append("--essential-hook=cp -a \(shellQuoted(essentialOverlay))/. \"$1/\"")
        args.append("--customize-hook=cp -a \(shellQuoted(customizeOverlay))/. \"$1/\"")
        args.append("--customize-hook=" + customizeScript)
        args += [spec.suite, rootfs]
        return args + sources
    }

    /// Runs in the finished root tree ($1): services, no host keys, no machine identity, no apt lists.
    var customizeScript: String {
        """
        set -e; \
        chroot "$1" systemctl enable systemd-networkd systemd-resolved ssh; \
        chroot "$1" systemctl mask \(Self.maskedUnits.joined(separator: " ")); \
        ln -sf ../run/systemd/resolve/stub-resolv.conf "$1/etc/resolv.conf"; \
        rm -f "$1"/etc/ssh/ssh_host_*; \
        : > "$1/etc/machine-id"; rm -f "$1/var/lib/dbus/machine-id"; \
        rm -rf "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*_Packages "$1"/var/lib/apt/lists/*_Translation-*
        """
    }

    /// Files written into the root tree before any package is installed (path -> content).
    var essentialFiles: [String: String] {
        [
            "etc/initramfs-tools/conf.d/zz-kiln": "MODULES=list\nCOMPRESS=gzip\n",
            "usr/share/initramfs-tools/modules.d/kiln": Self.initramfsModules.joined(separator: "\n") + "\n",
        ]
    }

    /// Files laid over the finished root tree (path -> content).
    var customizeFiles: [String: String] {
        [
            "etc/hostname": "debian\n",
            "etc/hosts": "127.0.0.1 localhost\n127.0.1.1 debian\n::1 localhost ip6-localhost ip6-loopback\n",
            "etc/fstab": "LABEL=root / ext4 errors=remount-ro 0 1\n",
            "etc/systemd/network/80-kiln-dhcp.network": "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n",
            "etc/ssh/sshd_config.d/10-kiln.conf": "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n",
            // No host keys ship in the image: make them on first boot unless a credential put one there.
            "etc/systemd/system/ssh.service.d/10-kiln-host-keys.conf":
                "[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n",
        ]
    }
}

func shellQuoted(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
