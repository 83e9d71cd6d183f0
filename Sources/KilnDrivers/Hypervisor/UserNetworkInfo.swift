/// Reads QEMU's HMP `info usernet` table, whose forwarding rows look like
/// `  TCP[HOST_FORWARD]  10       127.0.0.1 46325       10.0.2.15    22     0     0`
/// (protocol[state], fd, host address, host port, guest address, guest port, queues).
enum UserNetworkInfo {
    struct HostForward: Equatable {
        var hostAddress: String
        var hostPort: Int
        var guestAddress: String
        var guestPort: Int
    }

    /// TCP host forwards, in the order QEMU lists them. Columns are found by shape rather than
    /// position, so a missing or extra column (the fd, the queues) does not shift the ports.
    static func tcpHostForwards(in text: String) -> [HostForward] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let first = fields.first, first.uppercased().hasPrefix("TCP[HOST_FORWARD") else { return nil }
            let rest = fields.dropFirst()
            guard let hostIndex = rest.firstIndex(where: isIPv4Address),
                  let guestIndex = rest[(hostIndex + 1)...].firstIndex(where: isIPv4Address),
                  hostIndex + 1 < guestIndex, guestIndex + 1 < fields.count,
                  let hostPort = Int(fields[hostIndex + 1]), let guestPort = Int(fields[guestIndex + 1])
            else { return nil }
            return HostForward(hostAddress: fields[hostIndex], hostPort: hostPort,
                               guestAddress: fields[guestIndex], guestPort: guestPort)
        }
    }

    /// The host port forwarded to `guestPort`, when QEMU has bound one (never 0).
    static func hostPort(forwardingTo guestPort: Int, in text: String) -> Int? {
        tcpHostForwards(in: text).first { $0.guestPort == guestPort && $0.hostPort > 0 }?.hostPort
    }

    private static func isIPv4Address(_ field: String) -> Bool {
        let octets = field.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { octet in
            guard let value = Int(octet) else { return false }
            return (0...255).contains(value)
        }
    }
}
