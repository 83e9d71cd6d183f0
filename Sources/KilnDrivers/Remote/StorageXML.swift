/// Pool and volume XML for the storage a build holds on a remote host. Pure.
enum StorageXML {
    /// A `dir` pool at `path`, 0700 so that only root on that host reads the build's disk.
    static func pool(name: String, path: String) -> String {
        """
        <pool type='dir'>
          <name>\(XMLEscape.escape(name))</name>
          <target>
            <path>\(XMLEscape.escape(path))</path>
            <permissions>
              <mode>0700</mode>
            </permissions>
          </target>
        </pool>

        """
    }

    /// An empty raw file: an upload then gives it its content (a qcow2 disk stays qcow2 bytes;
    /// the domain XML says how to read it), or the domain writes into it.
    static func volume(name: String) -> String {
        """
        <volume type='file'>
          <name>\(XMLEscape.escape(name))</name>
          <capacity unit='bytes'>0</capacity>
          <target>
            <format type='raw'/>
            <permissions>
              <mode>0600</mode>
            </permissions>
          </target>
        </volume>

        """
    }
}
