import KilnCore
import Libvirt

extension LibvirtVirtualMachine {
    /// An external, disk-only snapshot without metadata: QEMU switches the guest's disk to a new
    /// overlay in milliseconds, and the image it wrote until now is left read-only behind it.
    func redirectDiskWrites(to overlay: String) async throws {
        let domain = try await currentDomain()
        let xml = Self.diskSnapshotXML(name: "kiln-layer", disk: "vda", overlay: overlay)
        do {
            try await domain.createSnapshot(xml: xml, flags: [.diskOnly, .noMetadata, .atomic])
        } catch {
            throw LibvirtFailure.error("cannot switch VM \(name)'s disk to a new overlay \(overlay)", error)
        }
    }

    static func diskSnapshotXML(name: String, disk: String, overlay: String) -> String {
        """
        <domainsnapshot>
          <name>\(XMLEscape.escape(name))</name>
          <memory snapshot='no'/>
          <disks>
            <disk name='\(XMLEscape.escape(disk))' snapshot='external' type='file'>
              <driver type='qcow2'/>
              <source file='\(XMLEscape.escape(overlay))'/>
            </disk>
          </disks>
        </domainsnapshot>
        """
    }
}
