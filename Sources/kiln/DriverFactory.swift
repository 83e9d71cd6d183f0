import Foundation
import KilnCore
import KilnDrivers
import KilnTemplate

/// The one place where the engine meets the real world.
enum DriverFactory {
    /// `uri`: the libvirt connection that runs the build (see `HypervisorTargets`).
    static func drivers(for build: BuildSpec, uri: String) -> Drivers {
        Drivers(bases: BaseImageStore(), disks: QemuImgDiskTool(), hypervisor: hypervisor(uri: uri),
                guests: SSHGuestConnector(), offline: GuestFSDiskWorker(), keys: GuestKeys(),
                packager: OVAVagrantPackager(), publisher: AMIPublisher())
    }

    static func hypervisor(uri: String) -> any Hypervisor {
        LibvirtHypervisor(uri: uri)
    }
}
