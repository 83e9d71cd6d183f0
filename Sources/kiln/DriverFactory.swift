import Foundation
import KilnCore
import KilnDrivers
import KilnTemplate

/// The one place where the engine meets the real world.
enum DriverFactory {
    static func drivers(for build: BuildSpec) -> Drivers {
        Drivers(bases: BaseImageStore(), disks: QemuImgDiskTool(), hypervisor: hypervisor(uri: build.machine.connect),
                guests: SSHGuestConnector(), offline: GuestFSDiskWorker(), keys: GuestKeys(),
                packager: OVAVagrantPackager(), publisher: AMIPublisher())
    }

    static func hypervisor(uri: String) -> any Hypervisor {
        LibvirtHypervisor(uri: uri)
    }
}
