/// The disk controller a VMDK is meant for (`ddb.adapterType`); it also decides the geometry.
enum VMDKAdapterType: String, Sendable {
    case ide, lsilogic, buslogic
}

/// The cylinders/heads/sectors a VMDK descriptor records. VMware's rules: IDE disks have 16 heads
/// and at most 16383 cylinders, SCSI disks 255 heads; always 63 sectors per track.
struct VMDKGeometry: Equatable {
    var cylinders: UInt64
    var heads: UInt64
    var sectors: UInt64

    init(cylinders: UInt64, heads: UInt64, sectors: UInt64) {
        self.cylinders = cylinders
        self.heads = heads
        self.sectors = sectors
    }

    init(capacitySectors: UInt64, adapter: VMDKAdapterType) {
        sectors = 63
        heads = adapter == .ide ? 16 : 255
        let exact = capacitySectors / (heads * sectors)
        cylinders = adapter == .ide ? min(exact, 16383) : exact
    }
}

/// The text descriptor embedded after the header of a monolithic (single-file) streamOptimized VMDK.
struct StreamOptimizedVMDKDescriptor: Equatable {
    var capacitySectors: UInt64
    var adapter: VMDKAdapterType
    /// Content ID: a random number, changed whenever the disk is written (parents' CIDs chain snapshots).
    var cid: UInt32
    /// The file the extent line names: the VMDK itself.
    var fileName: String
    /// Virtual hardware version 4 (Workstation 5 / ESX 3): what qemu-img writes and every importer accepts.
    var virtualHWVersion = 4

    func render() -> String {
        let geometry = VMDKGeometry(capacitySectors: capacitySectors, adapter: adapter)
        // The extent name is quoted; a quote or newline in it could not be read back.
        let name = String(fileName.map { $0 == "\"" || $0.isNewline ? "_" : $0 })
        return """
            # Disk DescriptorFile
            version=1
            encoding="UTF-8"
            CID=\(hex(cid))
            parentCID=ffffffff
            createType="streamOptimized"

            # Extent description
            RW \(capacitySectors) SPARSE "\(name)"

            # The Disk Data Base
            #DDB

            ddb.virtualHWVersion = "\(virtualHWVersion)"
            ddb.geometry.cylinders = "\(geometry.cylinders)"
            ddb.geometry.heads = "\(geometry.heads)"
            ddb.geometry.sectors = "\(geometry.sectors)"
            ddb.adapterType = "\(adapter.rawValue)"

            """
    }

    /// The descriptor's sectors, zero-padded.
    func encoded() throws -> [UInt8] {
        let text = Array(render().utf8)
        let room = Int(StreamOptimizedVMDK.descriptorSectors) * StreamOptimizedVMDK.sectorSize
        guard text.count < room else { throw StreamOptimizedVMDKError.descriptorTooLong(text.count) }
        return text + [UInt8](repeating: 0, count: room - text.count)
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// A CID for a new disk: random, and never ffffffff ("no parent") or fffffffe.
    static func randomCID() -> UInt32 { UInt32.random(in: 1...0xffff_fffd) }
}

enum StreamOptimizedVMDKError: Error, CustomStringConvertible {
    case descriptorTooLong(Int)
    case sourceSizeNotSectors(UInt64)
    case tooLarge(String)
    case compression(Int32)

    var description: String {
        switch self {
        case .descriptorTooLong(let count): "the VMDK descriptor takes \(count) bytes, more than its 10 KiB"
        case .sourceSizeNotSectors(let size): "the raw disk is \(size) bytes, not a whole number of 512-byte sectors"
        case .tooLarge(let what): "\(what) does not fit a VMDK's 32-bit sector offsets (2 TiB)"
        case .compression(let code): "zlib's deflate failed (\(code))"
        }
    }
}
