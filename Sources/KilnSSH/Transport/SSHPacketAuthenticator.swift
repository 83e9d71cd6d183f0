import Crypto
import Foundation
import NIOCore

/// HMAC-SHA-256 over `uint32 sequence_number || packet bytes` (RFC 4253 §6.4, RFC 6668).
/// Which bytes are "the packet" (plaintext or ciphertext) is the caller's choice.
struct SSHPacketAuthenticator {
    static let byteCount = SHA256.byteCount
    static let keyByteCount = SHA256.byteCount

    private let key: SymmetricKey

    init(key: SymmetricKey) throws {
        guard key.bitCount == Self.keyByteCount * 8 else {
            throw SSHTransportProtectionError.invalidKeyMaterial(
                "hmac-sha2-256 needs a \(Self.keyByteCount)-byte key, got \(key.bitCount / 8) bytes")
        }
        self.key = key
    }

    func code(sequenceNumber: UInt32, packet: ByteBuffer, at index: Int, count: Int) -> HMAC<SHA256>.MAC {
        var hmac = HMAC<SHA256>(key: key)
        withUnsafeBytes(of: sequenceNumber.bigEndian) { hmac.update(data: $0) }
        packet.withUnsafeReadableBytes { readable in
            let start = index - packet.readerIndex
            hmac.update(data: UnsafeRawBufferPointer(rebasing: readable[start..<start + count]))
        }
        return hmac.finalize()
    }

    /// Throws unless the `byteCount` bytes after the packet are its MAC (compared in constant time).
    func verify(sequenceNumber: UInt32, packet: ByteBuffer, at index: Int, count: Int) throws {
        let expected = code(sequenceNumber: sequenceNumber, packet: packet, at: index, count: count)
        guard let received = packet.getBytes(at: index + count, length: Self.byteCount), expected == received else {
            throw SSHTransportProtectionError.macMismatch(sequenceNumber: sequenceNumber)
        }
    }
}
