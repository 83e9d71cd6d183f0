import Foundation
import KilnCore

/// NAME.ova: a ustar archive of NAME.ovf, NAME.mf, NAME-disk1.vmdk, in that order (DSP0243
/// requires the descriptor first and the manifest right after it; VMware streams the archive).
enum OVAPackaging {
    static func write(_ request: PackageRequest, _ stages: PackageProgress) async throws {
        let parts = try await OVFPackageBuilder.build(request, descriptorName: "\(request.name).ovf",
                                                      diskName: "\(request.name)-disk1.vmdk",
                                                      progress: stages.stage(0, 0.7))
        let manifestName = "\(request.name).mf"
        let descriptorDigest = try FileHashing.sha256(path: parts.descriptorPath)
        let diskDigest = try await BlockingWork.run { flag in
            try FileHashing.sha256(path: parts.diskPath, isCancelled: { flag.isRaised })
        }
        stages.stage(0, 0.8)(1)
        let manifest = OVFManifest.render([(parts.descriptorName, descriptorDigest), (parts.diskName, diskDigest)])
        let descriptor = try Data(contentsOf: URL(fileURLWithPath: parts.descriptorPath))
        let diskSize = try FileDigest.size(path: parts.diskPath)
        let copied = stages.bytes(0.8, 1, total: diskSize)
        let destination = request.destination
        try await BlockingWork.run { flag in
            let tar = try TarWriter(path: destination)
            try tar.add(name: parts.descriptorName, data: descriptor)
            try tar.add(name: manifestName, data: Data(manifest.utf8))
            try tar.add(name: parts.diskName, file: parts.diskPath, isCancelled: { flag.isRaised }, copied: copied)
            try tar.finish()
        }
    }
}
