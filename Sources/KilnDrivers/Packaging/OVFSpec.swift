import KilnTemplate

/// Everything an OVF 1.0 descriptor states about one virtual machine with one disk and one NIC.
public struct OVFSpec: Sendable, Equatable {
    /// The virtual system's name (also its ovf:id and VirtualSystemIdentifier).
    public var name: String
    public var cpus: Int
    public var memoryMiB: Int
    /// The disk file's name inside the package (ovf:href), e.g. `NAME-disk1.vmdk`.
    public var diskFileName: String
    /// The disk file's length in bytes (ovf:size).
    public var diskFileSize: UInt64
    /// The disk's virtual size in bytes (ovf:capacity).
    public var diskCapacity: UInt64
    public var operatingSystem: OVFOperatingSystem
    public var firmware: Firmware
    public var nic: OVFNetworkAdapter

    public init(name: String, cpus: Int, memoryMiB: Int, diskFileName: String, diskFileSize: UInt64,
                diskCapacity: UInt64, operatingSystem: OVFOperatingSystem = .debian64, firmware: Firmware = .bios,
                nic: OVFNetworkAdapter = OVFNetworkAdapter()) {
        self.name = name
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.diskFileName = diskFileName
        self.diskFileSize = diskFileSize
        self.diskCapacity = diskCapacity
        self.operatingSystem = operatingSystem
        self.firmware = firmware
        self.nic = nic
    }
}

/// The guest OS as OVF names it: a CIM OS type (what VirtualBox reads) and VMware's guest id.
public struct OVFOperatingSystem: Sendable, Equatable {
    /// CIM_OperatingSystem.OsType (DSP0243 / CIM schema): 96 is "Debian 64-Bit", 101 "Linux 64-Bit".
    public var cimID: Int
    public var description: String
    /// VMware's guestId (vmw:osType).
    public var vmwareOSType: String

    public init(cimID: Int, description: String, vmwareOSType: String) {
        self.cimID = cimID
        self.description = description
        self.vmwareOSType = vmwareOSType
    }

    /// Kiln's own images are Debian. debian10_64Guest is the newest Debian id that ESXi 6.5+
    /// and Workstation 15+ know; VirtualBox maps CIM 96 to Debian_64.
    public static let debian64 = OVFOperatingSystem(cimID: 96, description: "Debian 64-bit", vmwareOSType: "debian10_64Guest")
    public static let otherLinux64 = OVFOperatingSystem(cimID: 101, description: "Linux 64-bit", vmwareOSType: "otherLinux64Guest")
}

/// The one network adapter: an Intel E1000, the only model both VirtualBox and VMware emulate.
public struct OVFNetworkAdapter: Sendable, Equatable {
    /// The abstract network (NetworkSection); VirtualBox attaches "NAT" to NAT, VMware asks or maps it.
    public var networkName: String

    public init(networkName: String = "NAT") {
        self.networkName = networkName
    }
}
