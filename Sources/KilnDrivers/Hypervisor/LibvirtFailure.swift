import KilnCore
import Libvirt

/// Turns libvirt's errors into the engine's, keeping libvirt's own message.
enum LibvirtFailure {
    static let daemonHint = "is libvirtd running? run scripts/setup as root, then check `virsh -c qemu:///system version`"

    static func remoteDaemonHint(_ uri: String) -> String {
        "is libvirtd running there and listening? check `virsh -c \(uri) version`"
    }

    static func error(_ context: String, _ error: any Error, hint: String? = nil) -> KilnError {
        if let kiln = error as? KilnError { return kiln }
        let detail = (error as? LibvirtError)?.message ?? "\(error)"
        return KilnError(.hypervisor, "\(context): \(detail)", hint: hint, cause: error)
    }

    /// A hint for a domain that libvirt refused to start (`host`: where it ran, when not here).
    static func startHint(_ config: VMConfig, _ error: any Error, host: String? = nil) -> String {
        let message = ((error as? LibvirtError)?.message ?? "").lowercased()
        if config.firmware == .uefi && message.contains("firmware") {
            return "UEFI needs OVMF: install the ovmf package" + (host.map { " on \($0)" } ?? "") + ", or use firmware: bios"
        }
        if config.accelerator == .kvm && message.contains("kvm") {
            return "KVM is not usable " + (host.map { "on \($0)" } ?? "here") + ": set machine.accelerator to auto or tcg"
        }
        return "QEMU's own log is /var/log/libvirt/qemu/\(config.name).log" + (host.map { " on \($0)" } ?? "")
    }
}
