import Foundation
import KilnCore
import KilnTemplate

/// Vagrant boxes as plain (uncompressed) tar archives, which `vagrant box add` accepts like
/// .tar.gz: the disks inside are already compressed (streamOptimized VMDK) or sparse (qcow2).
enum VagrantPackaging {
    /// metadata.json, Vagrantfile, box.img (a standalone qcow2) for vagrant-libvirt.
    static func writeLibvirtBox(_ request: PackageRequest, _ stages: PackageProgress) async throws {
        let image = request.scratch + "/box.img"
        try await PackageDiskConversion.run(
            PackageDiskConversion.standaloneQcow2Arguments(source: request.disk, destination: image,
                                                           compress: request.output.compress),
            writing: image, progress: stages.stage(0, 0.7))
        let info = try await QemuImg.info(image)
        guard info.backingFile == nil else {
            throw KilnError(.internal, "box.img still has a backing file (\(info.backingFile ?? ""))")
        }
        try await archive(to: request.destination, files: [
            ("metadata.json", .text(VagrantBoxFiles.metadata(provider: .libvirt, virtualSize: info.virtualSize))),
            ("Vagrantfile", .text(VagrantBoxFiles.vagrantfile(provider: .libvirt, machine: request.machine, boxName: request.name))),
            ("box.img", .file(image)),
        ], progress: stages, from: 0.7)
    }

    /// metadata.json, Vagrantfile, box.ovf and its streamOptimized disk for Vagrant's VirtualBox provider.
    static func writeVirtualBoxBox(_ request: PackageRequest, _ stages: PackageProgress) async throws {
        let parts = try await OVFPackageBuilder.build(request, descriptorName: "box.ovf", diskName: "box-disk1.vmdk",
                                                      progress: stages.stage(0, 0.75))
        try await archive(to: request.destination, files: [
            ("metadata.json", .text(VagrantBoxFiles.metadata(provider: .virtualbox, virtualSize: 0))),
            ("Vagrantfile", .text(VagrantBoxFiles.vagrantfile(provider: .virtualbox, machine: request.machine, boxName: request.name))),
            (parts.descriptorName, .file(parts.descriptorPath)),
            (parts.diskName, .file(parts.diskPath)),
        ], progress: stages, from: 0.75)
    }

    enum Member: Sendable {
        case text(String)
        case file(String)
    }

    private static func archive(to destination: String, files: [(String, Member)], progress: PackageProgress,
                                from start: Double) async throws {
        var total: UInt64 = 0
        for case (_, .file(let path)) in files { total += try FileDigest.size(path: path) }
        let copied = progress.bytes(start, 1, total: total)
        let members = files.map { Pair(name: $0.0, member: $0.1) }
        try await BlockingWork.run { flag in
            let tar = try TarWriter(path: destination)
            var before: UInt64 = 0
            for pair in members {
                switch pair.member {
                case .text(let text):
                    try tar.add(name: pair.name, data: Data(text.utf8))
                case .file(let path):
                    let base = before
                    try tar.add(name: pair.name, file: path, isCancelled: { flag.isRaised }, copied: { copied(base + $0) })
                    before += try FileDigest.size(path: path)
                }
            }
            try tar.finish()
        }
    }

    private struct Pair: Sendable {
        var name: String
        var member: Member
    }
}
