import Foundation
import KilnCore
import KilnTemplate
import Testing
@testable import KilnDrivers

@Suite("Base image recipe and boot sector (pure)")
struct BaseImageRecipeTests {
    @Test func cacheKeyDependsOnEveryInputButNotPackageOrder() {
        let base = BootstrapRecipe(spec: BootstrapSpec(packages: ["nginx", "curl"])).cacheKey
        #expect(base == BootstrapRecipe(spec: BootstrapSpec(packages: ["curl", "nginx"])).cacheKey)
        #expect(base.count == 64)
        let variants = [
            BootstrapSpec(packages: ["nginx"]), BootstrapSpec(suite: "trixie", packages: ["nginx", "curl"]),
            BootstrapSpec(packages: ["nginx", "curl"], mirror: "http://127.0.0.1/debian"),
            BootstrapSpec(packages: ["nginx", "curl"], bootloader: .extlinux),
            BootstrapSpec(packages: ["nginx", "curl"], size: 4 << 30),
        ]
        for spec in variants { #expect(BootstrapRecipe(spec: spec).cacheKey != base) }
    }

    @Test func summaryNamesTheRecipe() {
        let recipe = BootstrapRecipe(spec: BootstrapSpec(packages: ["nginx", "curl"]))
        #expect(recipe.summary == "debian/bookworm +curl +nginx (grub, 2048 MiB)")
    }

    @Test func mmdebstrapArguments() {
        let recipe = BootstrapRecipe(spec: BootstrapSpec(packages: ["nginx"]))
        let args = recipe.mmdebstrapArguments(rootfs: "/c/rootfs", essentialOverlay: "/c/ess", customizeOverlay: "/c/cust")
        #expect(Array(args.prefix(4)) == [
            "--variant=minbase", "--mode=root", "--format=directory",
            "--include=linux-image-amd64,systemd-sysv,udev,openssh-server,systemd-resolved,iproute2,kmod,initramfs-tools,nginx",
        ])
        #expect(args.contains("--dpkgopt=path-exclude=/lib/modules/*/kernel/*"))
        #expect(args.contains("--dpkgopt=path-include=/lib/modules/*/kernel/drivers/block/virtio_blk.ko"))
        #expect(args.contains("--essential-hook=cp -a '/c/ess'/. \"$1/\""))
        #expect(args.contains("--customize-hook=cp -a '/c/cust'/. \"$1/\""))
        #expect(Array(args.suffix(5)) == [
            "bookworm", "/c/rootfs", "deb http://deb.debian.org/debian bookworm main",
            "deb http://deb.debian.org/debian bookworm-updates main",
            "deb http://deb.debian.org/debian-security bookworm-security main",
        ])
    }

    @Test func imageIsSeededByCredentialsOnly() {
        let recipe = BootstrapRecipe(spec: BootstrapSpec())
        let files = recipe.customizeFiles
        #expect(files["etc/ssh/sshd_config.d/10-kiln.conf"]?.contains("PermitRootLogin prohibit-password") == true)
        #expect(files["etc/systemd/system/ssh.service.d/10-kiln-host-keys.conf"]?.contains("ExecStartPre=/usr/bin/ssh-keygen -A") == true)
        #expect(files["etc/systemd/network/80-kiln-dhcp.network"] == "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n")
        #expect(!files.keys.contains { $0.contains("authorized_keys") })
        #expect(recipe.customizeScript.contains("rm -f \"$1\"/etc/ssh/ssh_host_*"))
        #expect(recipe.customizeScript.contains(": > \"$1/etc/machine-id\""))
        #expect(recipe.essentialFiles["etc/initramfs-tools/conf.d/zz-kiln"] == "MODULES=list\nCOMPRESS=gzip\n")
    }

    @Test func grubConfig() {
        let text = BootloaderConfig.grubConfig(kernelVersion: "6.1.0-9-amd64", cmdline: BootstrapRecipe.kernelCmdline)
        #expect(text.contains("""
            menuentry "Debian GNU/Linux" {
                set root=(hd0,msdos1)
                linux /boot/vmlinuz-6.1.0-9-amd64 root=LABEL=root ro console=ttyS0 net.ifnames=0
                initrd /boot/initrd.img-6.1.0-9-amd64
            }
            """))
        #expect(text.contains("serial --unit=0 --speed=115200"))
    }

    @Test func grubBootSectorKeepsThePartitionTableAndPointsAtCoreImage() {
        let boot = (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var existing = [UInt8](repeating: 0, count: 512)
        for i in 0x1B8..<0x1FE { existing[i] = 0xA5 }          // disk signature + partition table
        existing[0x10] = 0x42                                   // a BPB byte
        let sector = GrubBIOSBoot.bootSector(bootImage: boot, existing: existing)
        #expect(sector.count == 512)
        #expect(Array(sector[0..<3]) == Array(boot[0..<3]))                     // the jump
        #expect(sector[0x10] == 0x42)
        #expect(Array(sector[0x5C..<0x64]) == [1, 0, 0, 0, 0, 0, 0, 0])         // core.img at sector 1
        #expect(sector[0x64] == 0xFF)
        #expect(Array(sector[0x66..<0x68]) == [0x90, 0x90])
        #expect(Array(sector[0x68..<0x1B8]) == Array(boot[0x68..<0x1B8]))       // the boot code
        #expect(sector[0x1B8..<0x1FE].allSatisfy { $0 == 0xA5 })
        #expect(Array(sector[510..<512]) == [0x55, 0xAA])
    }

    @Test func grubCoreImageArguments() {
        #expect(GrubBIOSBoot.mkimageArguments(output: "/w/core.img") == [
            "-O", "i386-pc", "-d", "/usr/lib/grub/i386-pc", "-p", "(hd0,msdos1)/boot/grub", "-o", "/w/core.img",
            "biosdisk", "part_msdos", "ext2",
        ])
    }

    @Test func leftoverMountsAreFoundDeepestFirst() {
        let info = """
            22 1 8:1 / / rw - ext4 /dev/sda1 rw
            90 22 0:5 / /var/cache/kiln/bootstrap/.tmp-k-1/rootfs/dev rw - devtmpfs udev rw
            91 90 0:6 / /var/cache/kiln/bootstrap/.tmp-k-1/rootfs/dev/pts rw - devpts devpts rw
            92 22 0:7 / /var/cache/kiln/bootstrap/.tmp-k-1/rootfs/proc rw - proc proc rw
            93 22 0:7 / /var/cache/kiln/bootstrap/.tmp-k-10/rootfs/proc rw - proc proc rw
            """
        #expect(LeftoverMounts.mountPoints(under: "/var/cache/kiln/bootstrap/.tmp-k-1", mountInfo: info) == [
            "/var/cache/kiln/bootstrap/.tmp-k-1/rootfs/dev/pts", "/var/cache/kiln/bootstrap/.tmp-k-1/rootfs/proc",
            "/var/cache/kiln/bootstrap/.tmp-k-1/rootfs/dev",
        ])
    }
}

@Suite("Checksum files and cache location (pure)")
struct BaseImageChecksumTests {
    let sha256 = String(repeating: "a1", count: 32)
    let sha512 = String(repeating: "b2", count: 64)

    @Test func gnuAndBSDLines() {
        let text = """
            # comment
            \(String(repeating: "0", count: 64))  other.img
            \(sha256)  debian-12-genericcloud-amd64.qcow2
            \(sha512) *debian-12-genericcloud-amd64.raw
            SHA256 (disk.vmdk) = \(sha256.uppercased())
            SHA512 (./sub/disk.vhd) = \(sha512)
            """
        #expect(ChecksumsFile.entry(for: "debian-12-genericcloud-amd64.qcow2", in: text) == .init(algorithm: .sha256, hex: sha256))
        #expect(ChecksumsFile.entry(for: "debian-12-genericcloud-amd64.raw", in: text) == .init(algorithm: .sha512, hex: sha512))
        #expect(ChecksumsFile.entry(for: "disk.vmdk", in: text) == .init(algorithm: .sha256, hex: sha256))
        #expect(ChecksumsFile.entry(for: "disk.vhd", in: text) == .init(algorithm: .sha512, hex: sha512))
        #expect(ChecksumsFile.entry(for: "missing.qcow2", in: text) == nil)
        #expect(ChecksumsFile.entry(for: "amd64.qcow2", in: text) == nil)   // no partial-name matches
    }

    @Test func malformedLinesAreIgnored() {
        let text = "nothex!  disk.qcow2\nabc  disk.qcow2\nSHA1 (disk.qcow2) = \(String(repeating: "c", count: 40))\n"
        #expect(ChecksumsFile.entry(for: "disk.qcow2", in: text) == nil)
    }

    @Test func cacheDirectoryFollowsTheEnvironment() {
        #expect(CacheDirectory(nil, environment: ["KILN_CACHE_DIR": "/k", "XDG_CACHE_HOME": "/x", "HOME": "/h"]).root == "/k")
        #expect(CacheDirectory(nil, environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]).root == "/x/kiln")
        #expect(CacheDirectory(nil, environment: ["KILN_CACHE_DIR": "", "HOME": "/h"]).root == "/h/.cache/kiln")
        #expect(CacheDirectory("/given", environment: ["KILN_CACHE_DIR": "/k"]).root == "/given")
        let cache = CacheDirectory("/c", environment: [:])
        #expect(cache.downloadEntry(forURL: "https://example.org/a.qcow2").hasPrefix("/c/downloads/"))
        #expect(cache.downloadEntry(forURL: "https://example.org/a.qcow2") != cache.downloadEntry(forURL: "https://example.org/b.qcow2"))
    }

    @Test func compressedNames() {
        #expect(Decompressor.Compression(fileName: "disk.qcow2.xz") == .xz)
        #expect(Decompressor.Compression(fileName: "disk.raw.gz") == .gz)
        #expect(Decompressor.Compression(fileName: "disk.qcow2") == nil)
        #expect(Decompressor.Compression.xz.decompressedName(of: "disk.qcow2.xz") == "disk.qcow2")
    }
}
