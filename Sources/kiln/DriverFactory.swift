import Foundation
import KilnCore
import KilnDrivers
import KilnTemplate

/// The one place where the engine meets the real world.
enum DriverFactory {
    static func drivers(for build: BuildSpec, stepCache: Bool = true) -> Drivers {
        Drivers(bases: BaseImageStore(), disks: QemuImgDiskTool(), hypervisor: hypervisor(uri: build.machine.connect),
                guests: SSHGuestConnector(), offline: GuestFSDiskWorker(), keys: GuestKeys(),
                packager: OVAVagrantPackager(), publisher: AMIPublisher(),
                layers: stepCache && isLocal(build.machine.connect) ? StepLayerStore() : nil)
    }

    /// The step cache keeps layers on this host; a remote hypervisor's disks live on that host.
    static func isLocal(_ uri: String) -> Bool {
        guard let scheme = uri.split(separator: ":").first else { return true }
        return !scheme.contains("+") && (uri.hasPrefix("qemu:///") || !uri.contains("://"))
    }

    static func hypervisor(uri: String) -> any Hypervisor {
        LibvirtHypervisor(uri: uri)
    }
}
