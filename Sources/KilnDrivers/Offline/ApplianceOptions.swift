import Foundation

/// Settings for the libguestfs appliance.
public struct ApplianceOptions: Sendable, Equatable {
    /// nil: decide from the host (force TCG unless KVM is usable).
    public var forceTCG: Bool?
    public var memoryMiB: Int?
    public var cpus: Int?

    public init(forceTCG: Bool? = nil, memoryMiB: Int? = nil, cpus: Int? = nil) {
        self.forceTCG = forceTCG
        self.memoryMiB = memoryMiB
        self.cpus = cpus
    }

    /// libguestfs picks KVM whenever /dev/kvm exists, and aborts on hosts where it cannot work
    /// (a nested PVM hypervisor): the same rule as for build VMs decides instead.
    static func kvmUnusable() -> Bool {
        AcceleratorProbe.kvmProblem(AcceleratorProbe.readFacts()) != nil
    }
}
