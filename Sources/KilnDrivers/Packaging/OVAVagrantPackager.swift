import Foundation
import KilnCore
import KilnTemplate

/// The ArtifactPackager port: OVA files (VirtualBox, VMware) and Vagrant boxes (libvirt, virtualbox).
/// Intermediate files go to `request.scratch`; the finished archive to `request.destination`.
public struct OVAVagrantPackager: ArtifactPackager {
    public init() {}

    public func package(_ request: PackageRequest, progress: @escaping @Sendable (Double) -> Void) async throws {
        let stages = PackageProgress(report: progress)
        switch request.output.format {
        case .ova:
            try await OVAPackaging.write(request, stages)
        case .vagrant:
            switch request.output.vagrantProvider {
            case .libvirt: try await VagrantPackaging.writeLibvirtBox(request, stages)
            case .virtualbox: try await VagrantPackaging.writeVirtualBoxBox(request, stages)
            }
        default:
            throw KilnError(.internal, "the packager cannot make \(request.output.format.rawValue) outputs")
        }
        progress(1)
    }
}
