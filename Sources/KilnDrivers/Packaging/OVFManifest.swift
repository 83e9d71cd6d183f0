/// The `.mf` file of an OVF package: one `SHA256(FILE)= HEX` line per file, in package order (pure).
/// VirtualBox (5.0+) and ovftool (4.x) verify SHA256 manifests; ESXi before 6.5 knows only SHA1.
enum OVFManifest {
    static func render(_ entries: [(file: String, sha256: String)]) -> String {
        entries.map { "SHA256(\($0.file))= \($0.sha256)\n" }.joined()
    }
}
