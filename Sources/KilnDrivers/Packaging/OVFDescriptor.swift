/// Renders an OVF 1.0 descriptor (DSP0243 1.0) that VirtualBox and VMware both import.
///
/// Compatibility choices (see the packager's report for sources):
/// - VirtualSystemType `vmx-10`: VMware refuses families it does not know (`virtualbox-2.2`);
///   VirtualBox only records the value.
/// - SCSI controller, subtype `lsilogic` (ResourceType 6): every VMware hardware version and every
///   VirtualBox version import it (VirtualBox maps any SCSI subtype but BusLogic/SAS to LsiLogic);
///   SATA would need `vmware.sata.ahci`, which older VirtualBox releases reject.
/// - rasd elements in the schema's (alphabetical) order, because ovftool validates against it.
/// - EFI as `vmw:Config firmware=efi`, which VMware reads and VirtualBox skips.
public enum OVFDescriptor {
    public static let streamOptimizedFormat = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
    public static let diskID = "vmdisk1"
    public static let fileID = "file1"
    public static let hardwareFamily = "vmx-10"

    public static func render(_ spec: OVFSpec) -> String {
        let name = XMLEscape.escape(spec.name)
        let network = XMLEscape.escape(spec.nic.networkName)
        let os = spec.operatingSystem
        var lines: [String] = [
            #"<?xml version="1.0" encoding="UTF-8"?>"#,
            #"<Envelope ovf:version="1.0" xml:lang="en-US" xmlns="http://schemas.dmtf.org/ovf/envelope/1""#
                + #" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1""#
                + #" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData""#
                + #" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData""#
                + #" xmlns:vmw="http://www.vmware.com/schema/ovf""#
                + #" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#,
            "  <References>",
            #"    <File ovf:href="\#(XMLEscape.escape(spec.diskFileName))" ovf:id="\#(fileID)" ovf:size="\#(spec.diskFileSize)"/>"#,
            "  </References>",
            "  <DiskSection>",
            "    <Info>Virtual disk information</Info>",
            #"    <Disk ovf:capacity="\#(spec.diskCapacity)" ovf:capacityAllocationUnits="byte" ovf:diskId="\#(diskID)""#
                + #" ovf:fileRef="\#(fileID)" ovf:format="\#(streamOptimizedFormat)"/>"#,
            "  </DiskSection>",
            "  <NetworkSection>",
            "    <Info>The list of logical networks</Info>",
            #"    <Network ovf:name="\#(network)">"#,
            "      <Description>The \(network) network</Description>",
            "    </Network>",
            "  </NetworkSection>",
            #"  <VirtualSystem ovf:id="\#(name)">"#,
            "    <Info>A virtual machine</Info>",
            "    <Name>\(name)</Name>",
            #"    <OperatingSystemSection ovf:id="\#(os.cimID)" vmw:osType="\#(XMLEscape.escape(os.vmwareOSType))">"#,
            "      <Info>The kind of installed guest operating system</Info>",
            "      <Description>\(XMLEscape.escape(os.description))</Description>",
            "    </OperatingSystemSection>",
            "    <VirtualHardwareSection>",
            "      <Info>Virtual hardware requirements</Info>",
            "      <System>",
            "        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>",
            "        <vssd:InstanceID>0</vssd:InstanceID>",
            "        <vssd:VirtualSystemIdentifier>\(name)</vssd:VirtualSystemIdentifier>",
            "        <vssd:VirtualSystemType>\(hardwareFamily)</vssd:VirtualSystemType>",
            "      </System>",
        ]
        lines += item([
            ("AllocationUnits", "hertz * 10^6"),
            ("Description", "Number of Virtual CPUs"),
            ("ElementName", "\(spec.cpus) virtual CPU(s)"),
            ("InstanceID", "1"),
            ("ResourceType", "3"),
            ("VirtualQuantity", "\(spec.cpus)"),
        ])
        lines += item([
            ("AllocationUnits", "byte * 2^20"),
            ("Description", "Memory Size"),
            ("ElementName", "\(spec.memoryMiB)MB of memory"),
            ("InstanceID", "2"),
            ("ResourceType", "4"),
            ("VirtualQuantity", "\(spec.memoryMiB)"),
        ])
        lines += item([
            ("Address", "0"),
            ("Description", "SCSI Controller"),
            ("ElementName", "SCSI Controller 0"),
            ("InstanceID", "3"),
            ("ResourceSubType", "lsilogic"),
            ("ResourceType", "6"),
        ])
        lines += item([
            ("AddressOnParent", "0"),
            ("ElementName", "Hard Disk 1"),
            ("HostResource", "ovf:/disk/\(diskID)"),
            ("InstanceID", "4"),
            ("Parent", "3"),
            ("ResourceType", "17"),
        ])
        lines += item([
            ("AddressOnParent", "7"),
            ("AutomaticAllocation", "true"),
            ("Connection", network),
            ("Description", "E1000 ethernet adapter on \(network)"),
            ("ElementName", "Network adapter 1"),
            ("InstanceID", "5"),
            ("ResourceSubType", "E1000"),
            ("ResourceType", "10"),
        ])
        if spec.firmware == .uefi {
            lines.append(#"      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>"#)
        }
        lines += [
            "    </VirtualHardwareSection>",
            "  </VirtualSystem>",
            "</Envelope>",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// One hardware Item; values must already be escaped.
    private static func item(_ fields: [(String, String)]) -> [String] {
        ["      <Item>"] + fields.map { "        <rasd:\($0.0)>\($0.1)</rasd:\($0.0)>" } + ["      </Item>"]
    }
}
