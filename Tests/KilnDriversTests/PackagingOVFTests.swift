import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import KilnCore
@testable import KilnDrivers
@testable import KilnTemplate

/// Rendered descriptors compared byte for byte with Golden/ovf-NAME.ovf.
/// `KILN_UPDATE_GOLDEN=1 swift test --filter PackagingOVFTests` rewrites the files.
@Suite struct PackagingOVFTests {
    static let specs: [String: OVFSpec] = [
        "bios-debian": OVFSpec(name: "kiln-debian", cpus: 2, memoryMiB: 1024, diskFileName: "kiln-debian-disk1.vmdk",
                               diskFileSize: 123_456_789, diskCapacity: 10_737_418_240),
        "uefi-escaped": OVFSpec(name: "web & <db>", cpus: 4, memoryMiB: 4096, diskFileName: "a&b'c\".vmdk",
                                diskFileSize: 512, diskCapacity: 68_719_476_736, operatingSystem: .otherLinux64,
                                firmware: .uefi, nic: OVFNetworkAdapter(networkName: "VM <\"Network\">")),
    ]

    static func facts(_ spec: OVFSpec) -> [String: OVFFileFacts] {
        [spec.diskFileName: OVFFileFacts(size: spec.diskFileSize, virtualSize: spec.diskCapacity)]
    }

    @Test(arguments: ["bios-debian", "uefi-escaped"])
    func matchesGolden(_ name: String) throws {
        let rendered = OVFDescriptor.render(try #require(Self.specs[name]))
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Golden/ovf-\(name).ovf")
        if ProcessInfo.processInfo.environment["KILN_UPDATE_GOLDEN"] == "1" {
            try rendered.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(rendered == expected, "rendered OVF differs from \(golden.path); KILN_UPDATE_GOLDEN=1 rewrites it")
    }

    @Test(arguments: ["bios-debian", "uefi-escaped"])
    func rendersValidDescriptorsThatKeepValues(_ name: String) throws {
        let spec = try #require(Self.specs[name])
        let text = OVFDescriptor.render(spec)
        #expect(OVFValidator.problems(descriptor: text, files: Self.facts(spec)) == [])
        let document = try XMLDocument(xmlString: text)
        func strings(_ xpath: String) throws -> [String] {
            try document.nodes(forXPath: xpath).compactMap(\.stringValue)
        }
        #expect(try strings("//*[local-name()='File']/@*[local-name()='href']") == [spec.diskFileName])
        #expect(try strings("//*[local-name()='VirtualSystem']/*[local-name()='Name']") == [spec.name])
        #expect(try strings("//*[local-name()='Network']/@*[local-name()='name']") == [spec.nic.networkName])
        #expect(try strings("//*[local-name()='Disk']/@*[local-name()='capacity']") == [String(spec.diskCapacity)])
        #expect(try strings("//*[local-name()='Config']/@*[local-name()='value']") == (spec.firmware == .uefi ? ["efi"] : []))
    }

    // MARK: validation

    static let spec = specs["bios-debian"]!
    static let good = OVFDescriptor.render(spec)

    @Test func catchesHostResourceNamingNoDisk() {
        let broken = Self.good.replacingOccurrences(of: "ovf:/disk/vmdisk1", with: "ovf:/disk/vmdisk2")
        let problems = OVFValidator.problems(descriptor: broken, files: Self.facts(Self.spec))
        #expect(problems == ["Item 4: HostResource ovf:/disk/vmdisk2 names no Disk"])
    }

    @Test func catchesMissingFileAndDanglingFileRef() {
        #expect(OVFValidator.problems(descriptor: Self.good, files: [:])
                == ["File file1: 'kiln-debian-disk1.vmdk' does not exist"])
        let dangling = Self.good.replacingOccurrences(of: #"ovf:fileRef="file1""#, with: #"ovf:fileRef="file9""#)
        #expect(OVFValidator.problems(descriptor: dangling, files: Self.facts(Self.spec))
                == ["Disk vmdisk1: ovf:fileRef 'file9' names no File"])
    }

    @Test func catchesWrongFileSize() {
        let files = ["kiln-debian-disk1.vmdk": OVFFileFacts(size: 999, virtualSize: Self.spec.diskCapacity)]
        #expect(OVFValidator.problems(descriptor: Self.good, files: files)
                == ["File file1: ovf:size is 123456789 but 'kiln-debian-disk1.vmdk' is 999 bytes"])
    }

    @Test func catchesCapacitySmallerThanTheDisk() {
        let files = ["kiln-debian-disk1.vmdk": OVFFileFacts(size: Self.spec.diskFileSize, virtualSize: Self.spec.diskCapacity + 512)]
        #expect(OVFValidator.problems(descriptor: Self.good, files: files)
                == ["Disk vmdisk1: ovf:capacity 10737418240 bytes is less than the virtual size 10737418752 of 'kiln-debian-disk1.vmdk'"])
    }

    @Test func catchesBadParentAndMissingSections() {
        let orphan = Self.good.replacingOccurrences(of: "<rasd:Parent>3</rasd:Parent>", with: "<rasd:Parent>8</rasd:Parent>")
        #expect(OVFValidator.problems(descriptor: orphan, files: Self.facts(Self.spec))
                == ["Item 4: Parent 8 is no other Item's InstanceID"])
        let start = Self.good.range(of: "    <OperatingSystemSection")!.lowerBound
        let end = Self.good.range(of: "</OperatingSystemSection>\n")!.upperBound
        var noOS = Self.good
        noOS.removeSubrange(start..<end)
        #expect(OVFValidator.problems(descriptor: noOS, files: Self.facts(Self.spec)) == ["missing OperatingSystemSection"])
    }

    @Test func catchesMalformedXMLAndForeignRoots() {
        let truncated = String(Self.good.dropLast(12))
        let problems = OVFValidator.problems(descriptor: truncated, files: Self.facts(Self.spec))
        #expect(problems.count == 1 && problems[0].hasPrefix("not well-formed XML"), "\(problems)")
        #expect(OVFValidator.problems(descriptor: "<domain/>", files: [:])
                == ["the root element is not an OVF 1.0 Envelope (http://schemas.dmtf.org/ovf/envelope/1)"])
    }

    @Test func manifestHasOneTaggedLinePerFile() {
        #expect(OVFManifest.render([("a.ovf", "00ff"), ("a-disk1.vmdk", "abcd")])
                == "SHA256(a.ovf)= 00ff\nSHA256(a-disk1.vmdk)= abcd\n")
    }
}
