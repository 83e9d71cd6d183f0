import Foundation
import KilnCore

/// The parts of an OVF package written to the scratch directory: a streamOptimized VMDK and a
/// descriptor that describes it, validated against it.
struct OVFPackageParts {
    var descriptorPath: String
    var diskPath: String
    var descriptorName: String { (descriptorPath as NSString).lastPathComponent }
    var diskName: String { (diskPath as NSString).lastPathComponent }
}

enum OVFPackageBuilder {
    static func build(_ request: PackageRequest, descriptorName: String, diskName: String,
                      progress: @escaping @Sendable (Double) -> Void) async throws -> OVFPackageParts {
        let diskPath = request.scratch + "/" + diskName
        let descriptorPath = request.scratch + "/" + descriptorName
        // The only VMDK kind OVF importers take, tagged for the descriptor's LSI Logic SCSI controller.
        try await StreamOptimizedVMDKConversion.convert(source: request.disk, to: diskPath, adapter: .lsilogic,
                                                        scratch: request.scratch, progress: progress)
        let vmdk = try await QemuImg.info(diskPath)
        let fileSize = try FileDigest.size(path: diskPath)
        let spec = OVFSpec(name: request.name, cpus: request.machine.cpus, memoryMiB: request.machine.memoryMiB,
                           diskFileName: diskName, diskFileSize: fileSize,
                           diskCapacity: vmdk.virtualSize, firmware: request.machine.firmware)
        do {
            try Data(OVFDescriptor.render(spec).utf8).write(to: URL(fileURLWithPath: descriptorPath))
        } catch {
            throw KilnError(.export, "cannot write \(descriptorPath): \(error)")
        }
        try await OVFValidator.validate(descriptorAt: descriptorPath)
        return OVFPackageParts(descriptorPath: descriptorPath, diskPath: diskPath)
    }
}
