import Foundation
import Testing
import KilnCore
@testable import KilnDrivers
@testable import KilnTemplate

/// Real OVAs and Vagrant boxes from a small qcow2 (needs only qemu-img, qemu-io and tar; a few seconds).
@Suite struct PackagingArchiveTests {
    @Test func ovaHasDescriptorManifestDiskInOrderAndVerifies() async throws {
        try await withPackagingDirectory { directory in
            let disk = try await makePackagingSourceDisk(in: directory)
            let request = try packagingRequest(disk: disk, format: .ova, in: directory)
            let log = ProgressLog()
            try await OVAVagrantPackager().package(request, progress: { log.record($0) })

            #expect(try await tarMembers(request.destination) == ["kiln-test.ovf", "kiln-test.mf", "kiln-test-disk1.vmdk"])
            #expect(log.all.last == 1)
            #expect(log.all == log.all.sorted())
            let out = try await unpack(request.destination, in: directory)

            let manifest = try String(contentsOfFile: out + "/kiln-test.mf", encoding: .utf8)
            var expected = ""
            for file in ["kiln-test.ovf", "kiln-test-disk1.vmdk"] {
                let digest = try await packagingRun("sha256sum", [file], in: out).split(separator: " ")[0]
                expected += "SHA256(\(file))= \(digest)\n"
            }
            #expect(manifest == expected)

            try await OVFValidator.validate(descriptorAt: out + "/kiln-test.ovf")
            let descriptor = try String(contentsOfFile: out + "/kiln-test.ovf", encoding: .utf8)
            #expect(descriptor.contains(#"ovf:capacity="67108864""#))
            #expect(descriptor.contains("<rasd:VirtualQuantity>768</rasd:VirtualQuantity>"))
            #expect(descriptor.contains("<rasd:VirtualQuantity>3</rasd:VirtualQuantity>"))

            let vmdk = out + "/kiln-test-disk1.vmdk"
            try await expectSameContent(disk, vmdk)
            let info = try await QemuImg.info(vmdk)
            #expect(info.format == "vmdk")
            let header = try #require(FileHandle(forReadingAtPath: vmdk)).readData(ofLength: 64 << 10)
            let text = String(decoding: header, as: UTF8.self)
            #expect(text.contains(#"createType="streamOptimized""#))
            #expect(text.contains(#"ddb.adapterType = "lsilogic""#))
        }
    }

    @Test func libvirtBoxHoldsStandaloneQcow2AndMetadata() async throws {
        try await withPackagingDirectory { directory in
            let disk = try await makePackagingSourceDisk(in: directory)
            let request = try packagingRequest(disk: disk, format: .vagrant, provider: .libvirt, in: directory)
            try await OVAVagrantPackager().package(request, progress: { _ in })

            #expect(try await tarMembers(request.destination) == ["metadata.json", "Vagrantfile", "box.img"])
            let out = try await unpack(request.destination, in: directory)
            let metadata = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/metadata.json"))) as? [String: Any]
            #expect(metadata?["provider"] as? String == "libvirt")
            #expect(metadata?["format"] as? String == "qcow2")
            #expect(metadata?["virtual_size"] as? Int == 1)
            let vagrantfile = try String(contentsOfFile: out + "/Vagrantfile", encoding: .utf8)
            #expect(vagrantfile.contains("libvirt.memory = 768"))
            #expect(vagrantfile.contains("libvirt.cpus = 3"))

            let image = out + "/box.img"
            let info = try await QemuImg.info(image)
            #expect(info.format == "qcow2")
            #expect(info.backingFile == nil)
            #expect(info.virtualSize == 64 << 20)
            try await expectSameContent(disk, image)
        }
    }

    @Test func virtualBoxBoxHoldsOVFAndItsDisk() async throws {
        try await withPackagingDirectory { directory in
            let disk = try await makePackagingSourceDisk(in: directory)
            let request = try packagingRequest(disk: disk, format: .vagrant, provider: .virtualbox,
                                               firmware: .uefi, in: directory)
            try await OVAVagrantPackager().package(request, progress: { _ in })

            #expect(try await tarMembers(request.destination) == ["metadata.json", "Vagrantfile", "box.ovf", "box-disk1.vmdk"])
            let out = try await unpack(request.destination, in: directory)
            let metadata = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/metadata.json"))) as? [String: Any]
            #expect(metadata?.count == 1)
            #expect(metadata?["provider"] as? String == "virtualbox")
            let vagrantfile = try String(contentsOfFile: out + "/Vagrantfile", encoding: .utf8)
            #expect(vagrantfile.contains("vb.memory = 768"))
            #expect(vagrantfile.contains("vb.cpus = 3"))
            #expect(vagrantfile.contains(#"config.vm.base_mac = "080027"#))
            #expect(vagrantfile.contains(#""--firmware", "efi""#))

            try await OVFValidator.validate(descriptorAt: out + "/box.ovf")
            let descriptor = try String(contentsOfFile: out + "/box.ovf", encoding: .utf8)
            #expect(descriptor.contains(#"ovf:href="box-disk1.vmdk""#))
            #expect(descriptor.contains(#"vmw:key="firmware" vmw:value="efi""#))
            try await expectSameContent(disk, out + "/box-disk1.vmdk")
        }
    }

    @Test func validatorReadsTheFilesBesideTheDescriptor() async throws {
        try await withPackagingDirectory { directory in
            let disk = try await makePackagingSourceDisk(in: directory)
            let request = try packagingRequest(disk: disk, format: .ova, in: directory)
            try await OVAVagrantPackager().package(request, progress: { _ in })
            let out = try await unpack(request.destination, in: directory)
            let vmdk = out + "/kiln-test-disk1.vmdk"
            let handle = try #require(FileHandle(forWritingAtPath: vmdk))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(count: 512))
            try handle.close()
            let error = await #expect(throws: KilnError.self) { try await OVFValidator.validate(descriptorAt: out + "/kiln-test.ovf") }
            #expect(error?.code == .export)
            #expect(error?.message.contains("ovf:size is") == true)
            try FileManager.default.removeItem(atPath: vmdk)
            let missing = await #expect(throws: KilnError.self) { try await OVFValidator.validate(descriptorAt: out + "/kiln-test.ovf") }
            #expect(missing?.message.contains("does not exist") == true)
        }
    }

    @Test func refusesFormatsItDoesNotPackage() async throws {
        try await withPackagingDirectory { directory in
            let request = try packagingRequest(disk: directory + "/none.qcow2", format: .vdi, in: directory)
            await #expect(throws: KilnError.self) { try await OVAVagrantPackager().package(request, progress: { _ in }) }
        }
    }

    // MARK: helpers

    private func unpack(_ archive: String, in directory: String) async throws -> String {
        let out = directory + "/unpacked"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try await packagingRun("tar", ["-xf", archive, "-C", out])
        return out
    }

    /// `qemu-img check` passes and `qemu-img compare` finds the same guest-visible content.
    private func expectSameContent(_ source: String, _ copy: String) async throws {
        let check = try await Subprocess.run("qemu-img", ["check", copy], check: false)
        #expect(check.status == 0, "qemu-img check \(copy): \(check.stdoutText)\(check.stderrText)")
        let compare = try await Subprocess.run("qemu-img", ["compare", source, copy], check: false)
        #expect(compare.status == 0, "qemu-img compare: \(compare.stdoutText)\(compare.stderrText)")
    }
}
