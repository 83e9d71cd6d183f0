import Crypto
import Foundation
import KilnTemplate

/// The small text files of a Vagrant box (pure).
enum VagrantBoxFiles {
    /// `metadata.json`. vagrant-libvirt wants the image format and its virtual size in whole GiB
    /// (rounded up so the box never claims less than the disk holds).
    static func metadata(provider: VagrantProvider, virtualSize: UInt64) -> String {
        switch provider {
        case .libvirt:
            let gib = (virtualSize + (1 << 30) - 1) >> 30
            return #"{"provider":"libvirt","format":"qcow2","virtual_size":\#(gib)}"# + "\n"
        case .virtualbox:
            return #"{"provider":"virtualbox"}"# + "\n"
        }
    }

    /// The box's own Vagrantfile: defaults a user's Vagrantfile can override.
    static func vagrantfile(provider: VagrantProvider, machine: MachineSpec, boxName: String) -> String {
        var lines = [
            "# Defaults of the box \(rubyComment(boxName)), built by Kiln; a project's Vagrantfile overrides them.",
            #"Vagrant.configure("2") do |config|"#,
        ]
        switch provider {
        case .libvirt:
            lines += [
                "  config.vm.provider :libvirt do |libvirt|",
                #"    libvirt.driver = "kvm""#,
                "    libvirt.memory = \(machine.memoryMiB)",
                "    libvirt.cpus = \(machine.cpus)",
                "  end",
            ]
        case .virtualbox:
            lines += [
                // Vagrant sets the NAT adapter's MAC to base_mac (older releases refuse to start without one).
                #"  config.vm.base_mac = "\#(baseMAC(boxName))""#,
                "  config.vm.provider :virtualbox do |vb|",
                "    vb.memory = \(machine.memoryMiB)",
                "    vb.cpus = \(machine.cpus)",
                machine.firmware == .uefi ? #"    vb.customize ["modifyvm", :id, "--firmware", "efi"]"# : nil,
                "  end",
            ].compactMap { $0 }
        }
        lines.append("end")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A stable MAC in VirtualBox's OUI (08:00:27), derived from the box name.
    static func baseMAC(_ boxName: String) -> String {
        let digest = Array(SHA256.hash(data: Data(boxName.utf8)))
        return "080027" + digest.prefix(3).map { String(format: "%02X", $0) }.joined()
    }

    private static func rubyComment(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ")
    }
}
