#if canImport(_CryptoExtras)
import Crypto
import NIOCore
import NIOSSH

/// Which bytes the MAC covers, and so whether the packet length travels encrypted.
public enum SSHMACPlacement: Sendable {
    /// RFC 4253 §6.4: the MAC covers the plaintext packet; the length is encrypted (`hmac-sha2-256`).
    case encryptAndMAC
    /// OpenSSH's `-etm@openssh.com`: the MAC covers the clear length and the ciphertext.
    case encryptThenMAC
}

/// The static choices that tell one AES-CTR + HMAC-SHA-256 scheme from another.
public protocol AESCTRHMACSHA256Variant {
    static var aesKeyByteCount: Int { get }
    static var macPlacement: SSHMACPlacement { get }
}

/// AES in counter mode (RFC 4344) with HMAC-SHA-256 (RFC 6668), for peers that offer no
/// AES-GCM, such as dropbear. Use one of the typealiases below.
public final class AESCTRHMACSHA256TransportProtection<Variant: AESCTRHMACSHA256Variant>: NIOSSHTransportProtection {
    private struct Direction {
        var keystream: AESCounterKeystream
        let authenticator: SSHPacketAuthenticator
    }

    private static var blockSize: Int { AESCounterKeystream.blockSize }
    private static var lengthFieldSize: Int { MemoryLayout<UInt32>.size }

    public static var cipherName: String { "aes\(Variant.aesKeyByteCount * 8)-ctr" }

    public static var macName: String? {
        switch Variant.macPlacement {
        case .encryptAndMAC: return "hmac-sha2-256"
        case .encryptThenMAC: return "hmac-sha2-256-etm@openssh.com"
        }
    }

    public static var cipherBlockSize: Int { blockSize }

    public static var keySizes: ExpectedKeySizes {
        ExpectedKeySizes(
            ivSize: blockSize,
            encryptionKeySize: Variant.aesKeyByteCount,
            macKeySize: SSHPacketAuthenticator.keyByteCount
        )
    }

    public var macBytes: Int { SSHPacketAuthenticator.byteCount }

    public var lengthEncrypted: Bool { Variant.macPlacement == .encryptAndMAC }

    private var inbound: Direction
    private var outbound: Direction

    public init(initialKeys: NIOSSHSessionKeys) throws {
        (inbound, outbound) = try Self.directions(for: initialKeys)
    }

    public func updateKeys(_ newKeys: NIOSSHSessionKeys) throws {
        (inbound, outbound) = try Self.directions(for: newKeys)
    }

    public func decryptFirstBlock(_ source: inout ByteBuffer) throws {
        guard lengthEncrypted else { return }
        try inbound.keystream.apply(to: &source, at: source.readerIndex, count: Self.blockSize)
    }

    public func decryptAndVerifyRemainingPacket(_ source: inout ByteBuffer, sequenceNumber: UInt32) throws -> ByteBuffer {
        let start = source.readerIndex
        guard let packetLength = source.getInteger(at: start, as: UInt32.self).map(Int.init) else {
            throw SSHTransportProtectionError.invalidPacketLength(source.readableBytes)
        }
        let packetEnd = start + Self.lengthFieldSize + packetLength
        // The encrypted region is a whole number of blocks, the first of which is already in clear
        // when the length is encrypted.
        let (encryptedStart, alreadyDecrypted) =
            lengthEncrypted ? (start, Self.blockSize) : (start + Self.lengthFieldSize, 0)
        let encryptedCount = packetEnd - encryptedStart
        guard encryptedCount >= Self.blockSize, encryptedCount % Self.blockSize == 0,
            source.readableBytes == packetEnd - start + macBytes
        else {
            throw SSHTransportProtectionError.invalidPacketLength(packetLength)
        }

        let packetBytes = packetEnd - start
        switch Variant.macPlacement {
        case .encryptAndMAC:
            try inbound.keystream.apply(
                to: &source, at: encryptedStart + alreadyDecrypted, count: encryptedCount - alreadyDecrypted)
            try inbound.authenticator.verify(sequenceNumber: sequenceNumber, packet: source, at: start, count: packetBytes)
        case .encryptThenMAC:
            try inbound.authenticator.verify(sequenceNumber: sequenceNumber, packet: source, at: start, count: packetBytes)
            try inbound.keystream.apply(to: &source, at: encryptedStart, count: encryptedCount)
        }

        source.moveReaderIndex(forwardBy: Self.lengthFieldSize)
        let body = source.readSlice(length: packetLength)!
        source.moveReaderIndex(forwardBy: macBytes)
        return try SSHPacketPayload.slice(fromBody: body)
    }

    public func encryptPacket(_ destination: inout ByteBuffer, sequenceNumber: UInt32) throws {
        let start = destination.readerIndex
        let packetBytes = destination.readableBytes
        let encryptedStart = lengthEncrypted ? start : start + Self.lengthFieldSize
        let encryptedCount = destination.writerIndex - encryptedStart

        let mac: HMAC<SHA256>.MAC
        switch Variant.macPlacement {
        case .encryptAndMAC:
            mac = outbound.authenticator.code(sequenceNumber: sequenceNumber, packet: destination, at: start, count: packetBytes)
            try outbound.keystream.apply(to: &destination, at: encryptedStart, count: encryptedCount)
        case .encryptThenMAC:
            try outbound.keystream.apply(to: &destination, at: encryptedStart, count: encryptedCount)
            mac = outbound.authenticator.code(sequenceNumber: sequenceNumber, packet: destination, at: start, count: packetBytes)
        }
        mac.withUnsafeBytes { _ = destination.writeBytes($0) }
    }

    private static func directions(for keys: NIOSSHSessionKeys) throws -> (inbound: Direction, outbound: Direction) {
        let keyBits = Variant.aesKeyByteCount * 8
        guard keys.inboundEncryptionKey.bitCount == keyBits, keys.outboundEncryptionKey.bitCount == keyBits else {
            throw SSHTransportProtectionError.invalidKeyMaterial("\(cipherName) needs \(keyBits)-bit keys")
        }
        let inbound = Direction(
            keystream: try AESCounterKeystream(key: keys.inboundEncryptionKey, initialCounter: keys.initialInboundIV),
            authenticator: try SSHPacketAuthenticator(key: keys.inboundMACKey)
        )
        let outbound = Direction(
            keystream: try AESCounterKeystream(key: keys.outboundEncryptionKey, initialCounter: keys.initialOutboundIV),
            authenticator: try SSHPacketAuthenticator(key: keys.outboundMACKey)
        )
        return (inbound, outbound)
    }
}

public enum AES128CTREncryptAndMAC: AESCTRHMACSHA256Variant {
    public static var aesKeyByteCount: Int { 16 }
    public static var macPlacement: SSHMACPlacement { .encryptAndMAC }
}

public enum AES256CTREncryptAndMAC: AESCTRHMACSHA256Variant {
    public static var aesKeyByteCount: Int { 32 }
    public static var macPlacement: SSHMACPlacement { .encryptAndMAC }
}

public enum AES128CTREncryptThenMAC: AESCTRHMACSHA256Variant {
    public static var aesKeyByteCount: Int { 16 }
    public static var macPlacement: SSHMACPlacement { .encryptThenMAC }
}

public enum AES256CTREncryptThenMAC: AESCTRHMACSHA256Variant {
    public static var aesKeyByteCount: Int { 32 }
    public static var macPlacement: SSHMACPlacement { .encryptThenMAC }
}

/// `aes128-ctr` with `hmac-sha2-256`: the combination dropbear 2022.83 accepts.
public typealias AES128CTRHMACSHA256TransportProtection = AESCTRHMACSHA256TransportProtection<AES128CTREncryptAndMAC>
/// `aes256-ctr` with `hmac-sha2-256`.
public typealias AES256CTRHMACSHA256TransportProtection = AESCTRHMACSHA256TransportProtection<AES256CTREncryptAndMAC>
/// `aes128-ctr` with `hmac-sha2-256-etm@openssh.com` (OpenSSH only; dropbear 2022.83 lacks it).
public typealias AES128CTRHMACSHA256ETMTransportProtection = AESCTRHMACSHA256TransportProtection<AES128CTREncryptThenMAC>
/// `aes256-ctr` with `hmac-sha2-256-etm@openssh.com`.
public typealias AES256CTRHMACSHA256ETMTransportProtection = AESCTRHMACSHA256TransportProtection<AES256CTREncryptThenMAC>
#endif
