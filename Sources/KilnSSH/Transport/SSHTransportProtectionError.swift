/// Why a counter-mode transport protection scheme rejected keys or an inbound packet.
/// NIOSSH reports these as the connection's error; any of them ends the connection.
public enum SSHTransportProtectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The key exchange produced a key or IV of the wrong size for the negotiated scheme.
    case invalidKeyMaterial(String)
    /// A packet's length is not a whole number of cipher blocks, or disagrees with the bytes received.
    case invalidPacketLength(Int)
    /// The padding length byte is below the RFC 4253 minimum of 4 or longer than the packet.
    case invalidPadding(Int)
    /// The packet's MAC does not match: corrupted or tampered data, or mismatched keys.
    case macMismatch(sequenceNumber: UInt32)

    public var description: String {
        switch self {
        case .invalidKeyMaterial(let what):
            return "SSH key exchange produced unusable key material: \(what)"
        case .invalidPacketLength(let length):
            return "received an SSH packet with invalid length \(length)"
        case .invalidPadding(let length):
            return "received an SSH packet with invalid padding length \(length)"
        case .macMismatch(let sequenceNumber):
            return "corrupted MAC on SSH packet \(sequenceNumber) (data altered in transit, or a key mismatch)"
        }
    }
}
