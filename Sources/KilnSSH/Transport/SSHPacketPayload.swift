import NIOCore

/// The payload of a decrypted SSH packet body: `byte padding_length || payload || padding`
/// (RFC 4253 §6), with at least four bytes of padding.
enum SSHPacketPayload {
    static let minimumPadding = 4

    static func slice(fromBody body: ByteBuffer) throws -> ByteBuffer {
        var body = body
        guard let paddingLength = body.readInteger(as: UInt8.self).map(Int.init) else {
            throw SSHTransportProtectionError.invalidPadding(0)
        }
        guard paddingLength >= minimumPadding, paddingLength <= body.readableBytes else {
            throw SSHTransportProtectionError.invalidPadding(paddingLength)
        }
        return body.readSlice(length: body.readableBytes - paddingLength)!
    }
}
