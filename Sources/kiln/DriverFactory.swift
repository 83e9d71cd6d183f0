import Foundation
import KilnCore
import KilnDrivers
import KilnTemplate

/// The one place where the engine meets the real world.
enum DriverFactory {
    /// `uri`: the libvirt connection that runs the build (see `HypervisorTargets`).
    static func drivers(for build: BuildSpec, uri: String, stepCache: Bool = true) -> Drivers {
        Drivers(bases: BaseImageStore(), disks: QemuImgDiskTool(), hypervisor: hypervisor(uri: uri),
                guests: SSHGuestConnector(), offline: GuestFSDiskWorker(), keys: GuestKeys(),
                packager: OVAVagrantPackager(), publisher: AMIPublisher(),
                layers: stepCache && isLocal(uri) ? StepLayerStore() : nil)
    }

    /// The step cache keeps layers on this host and snapshots the guest's disk where it runs: a
    /// remote guest runs from a copy in that host's pool, so remote builds run every step.
    static func isLocal(_ uri: String) -> Bool {
        !(LibvirtURI(uri)?.isRemote ?? false)
    }

    static func hypervisor(uri: String) -> any Hypervisor {
        LibvirtHypervisor(uri: uri)
    }
}
