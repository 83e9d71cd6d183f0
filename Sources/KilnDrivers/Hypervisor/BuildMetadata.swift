import Foundation

/// What Kiln records in a domain's `<metadata>` so that a later `kiln clean` can tell which
/// process started it, even after that process was killed.
struct BuildMetadata: Sendable, Equatable {
    static let namespaceURI = "https://kiln.dev/xmlns/build/1"
    static let prefix = "kiln"

    var ownerPID: Int32
    var workDirectory: String
    /// The machine the owner process runs on (`HostIdentity`), recorded for domains on a remote
    /// host, where several machines' builds may meet; absent for local domains.
    var ownerHost: String? = nil

    /// The element placed inside `<metadata>`, one line per child, indented by `indent`.
    func elementLines(indent: String) -> [String] {
        let p = Self.prefix
        return [
            "\(indent)<\(p):build xmlns:\(p)='\(XMLEscape.escape(Self.namespaceURI))'>",
            "\(indent)  <\(p):pid>\(ownerPID)</\(p):pid>",
            "\(indent)  <\(p):workdir>\(XMLEscape.escape(workDirectory))</\(p):workdir>",
        ] + (ownerHost.map { ["\(indent)  <\(p):host>\(XMLEscape.escape($0))</\(p):host>"] } ?? []) + [
            "\(indent)</\(p):build>",
        ]
    }

    /// Reads the element back as libvirt returns it from virDomainGetMetadata. libvirt may
    /// re-serialize it with another prefix or none, so children are matched by local name.
    /// Nil when the pid is missing or not a number.
    static func parse(_ xml: String) -> BuildMetadata? {
        guard let pidText = childText(named: "pid", in: xml),
              let pid = Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
        let workDirectory = childText(named: "workdir", in: xml).map(XMLEscape.unescape) ?? ""
        let host = childText(named: "host", in: xml).map(XMLEscape.unescape)
        return BuildMetadata(ownerPID: pid, workDirectory: workDirectory, ownerHost: host)
    }

    /// The raw text between `<[prefix:]name>` and its closing tag.
    private static func childText(named localName: String, in xml: String) -> String? {
        var searchFrom = xml.startIndex
        while let open = xml[searchFrom...].firstIndex(of: "<") {
            guard let close = xml[open...].firstIndex(of: ">") else { return nil }
            let tag = xml[xml.index(after: open)..<close]
            searchFrom = xml.index(after: close)
            guard !tag.hasPrefix("/"), !tag.hasSuffix("/") else { continue }
            let qualifiedName = tag.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
            guard qualifiedName.split(separator: ":").last.map(String.init) == localName else { continue }
            guard let end = xml.range(of: "</\(qualifiedName)>", range: searchFrom..<xml.endIndex) else { return nil }
            return String(xml[searchFrom..<end.lowerBound])
        }
        return nil
    }
}
