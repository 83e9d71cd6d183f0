/// What Kiln needs to know about a libvirt connection URI, `driver[+transport]://[user@][host][:port]/path[?query]`.
/// Pure: read from the text alone, as libvirt's own client decides whether to go remote.
public struct LibvirtURI: Sendable, Equatable {
    public var driver: String
    public var transport: String?
    public var user: String?
    public var host: String?
    public var port: Int?
    public var path: String

    /// Transports that reach a daemon over the network (or a program that may).
    static let remoteTransports: Set<String> = ["tcp", "tls", "ssh", "libssh", "libssh2", "ext"]

    public init?(_ text: String) {
        guard let schemeEnd = text.range(of: "://") else { return nil }
        let scheme = text[..<schemeEnd.lowerBound]
        let schemeParts = scheme.split(separator: "+", maxSplits: 1).map(String.init)
        guard let driver = schemeParts.first, !driver.isEmpty else { return nil }
        self.driver = driver
        transport = schemeParts.count > 1 ? schemeParts[1].lowercased() : nil
        var rest = text[schemeEnd.upperBound...]
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        let authority: Substring
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = String(rest[slash...])
        } else {
            authority = rest
            path = ""
        }
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            user = String(authority[..<at])
            hostPort = authority[authority.index(after: at)...]
        }
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            // [IPv6]:port
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") { port = Int(after.dropFirst()) }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            port = Int(hostPort[hostPort.index(after: colon)...])
        } else {
            host = String(hostPort)
        }
        if host?.isEmpty == true { host = nil }
    }

    /// The daemon is reached over a network transport, or named by host: its files are not ours.
    /// (`qemu:///system` and `qemu+unix:///system` are local; `qemu://host/system` means TLS.)
    public var isRemote: Bool {
        if let transport, Self.remoteTransports.contains(transport) { return true }
        if transport == "unix" { return false }
        return host != nil
    }

    /// The host is this machine, so a port bound on its 127.0.0.1 is ours to reach.
    public var isLoopbackHost: Bool {
        guard let host = host?.lowercased() else { return true }
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// For messages: the host, or "this machine".
    public var hostDescription: String { host ?? "this machine" }
}
