import Crypto
import Foundation

// The unencrypted `openssh-key-v1` private key format (OpenSSH's PROTOCOL.key):
//   "openssh-key-v1\0", string cipher "none", string kdf "none", string kdf options "",
//   uint32 1, string public key blob, string private section, all base64 in PEM armour.
// The private section is: uint32 checkint twice (equal), string type, string public key,
// string private key (32-byte seed then 32-byte public key), string comment, then padding
// bytes 1, 2, 3... up to a multiple of the cipher block size (8 for "none").
extension SSHKeyPair {
    private static let magic = Array("openssh-key-v1".utf8) + [0]
    private static let beginLine = "-----BEGIN OPENSSH PRIVATE KEY-----"
    private static let endLine = "-----END OPENSSH PRIVATE KEY-----"

    /// The private key file content, as `ssh-keygen` writes it (sshd accepts it as a HostKey).
    public var openSSHPrivateKey: String {
        let publicKey = Array(privateKey.publicKey.rawRepresentation)
        var secret = SSHWireWriter()
        let checkint = UInt32.random(in: .min ... .max)
        secret.writeUInt32(checkint)
        secret.writeUInt32(checkint)
        secret.writeString(Self.keyType)
        secret.writeString(publicKey)
        secret.writeString(Array(privateKey.rawRepresentation) + publicKey)
        secret.writeString(comment)
        var padding: UInt8 = 1
        while secret.bytes.count % 8 != 0 {
            secret.writeRaw([padding])
            padding += 1
        }

        var file = SSHWireWriter()
        file.writeRaw(Self.magic)
        file.writeString("none")
        file.writeString("none")
        file.writeString("")
        file.writeUInt32(1)
        file.writeString(publicKeyBlob)
        file.writeString(secret.bytes)

        let base64 = Data(file.bytes).base64EncodedString()
        var lines = [Self.beginLine]
        var index = base64.startIndex
        while index < base64.endIndex {
            let end = base64.index(index, offsetBy: 70, limitedBy: base64.endIndex) ?? base64.endIndex
            lines.append(String(base64[index..<end]))
            index = end
        }
        lines.append(Self.endLine)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses an unencrypted OpenSSH ed25519 private key file.
    public init(openSSHPrivateKey text: String) throws {
        guard let begin = text.range(of: Self.beginLine), let end = text.range(of: Self.endLine),
              begin.upperBound <= end.lowerBound
        else {
            throw SSHKeyError.notOpenSSHPrivateKey
        }
        let body = text[begin.upperBound..<end.lowerBound].filter { !$0.isWhitespace }
        guard let decoded = Data(base64Encoded: String(body)) else {
            throw SSHKeyError.corrupt("the base64 body does not decode")
        }
        do {
            try self.init(decodedFile: Array(decoded))
        } catch is SSHWireReader.Truncated {
            throw SSHKeyError.corrupt("truncated")
        }
    }

    private init(decodedFile bytes: [UInt8]) throws {
        var file = SSHWireReader(bytes)
        guard try file.readRaw(count: Self.magic.count) == Self.magic else {
            throw SSHKeyError.corrupt("missing the openssh-key-v1 magic")
        }
        let cipher = try file.readText()
        let kdf = try file.readText()
        _ = try file.readString()
        guard cipher == "none", kdf == "none" else { throw SSHKeyError.encrypted(cipher: cipher) }
        let keyCount = try file.readUInt32()
        guard keyCount == 1 else { throw SSHKeyError.corrupt("the file holds \(keyCount) keys, expected 1") }
        _ = try file.readString()
        var secret = SSHWireReader(try file.readString())

        guard try secret.readUInt32() == secret.readUInt32() else {
            throw SSHKeyError.corrupt("check integers differ")
        }
        let type = try secret.readText()
        guard type == Self.keyType else { throw SSHKeyError.unsupportedKeyType(type) }
        let publicKey = try secret.readString()
        let privateAndPublic = try secret.readString()
        let comment = try secret.readText()
        guard publicKey.count == 32, privateAndPublic.count == 64 else {
            throw SSHKeyError.corrupt("wrong ed25519 key lengths")
        }
        let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: privateAndPublic[0..<32])
        guard Array(privateKey.publicKey.rawRepresentation) == publicKey else {
            throw SSHKeyError.corrupt("the public key does not match the private key")
        }
        self.init(privateKey: privateKey, comment: comment)
    }

    /// Reads a private key file (see `init(openSSHPrivateKey:)`).
    public init(contentsOfPrivateKeyFile path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SSHKeyError.file(path: path, reason: "cannot read the private key: \(error.localizedDescription)")
        }
        try self.init(openSSHPrivateKey: text)
    }

    /// Writes the private key file with mode 0600 (replacing any file at `path`).
    public func writePrivateKey(to path: String) throws {
        let bytes = Array(openSSHPrivateKey.utf8)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SSHKeyError.file(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        // An existing file keeps its old mode through O_CREAT; the key must not stay readable.
        guard fchmod(fd, 0o600) == 0 else { throw SSHKeyError.file(path: path, reason: String(cString: strerror(errno))) }
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if result < 0 {
                if errno == EINTR { continue }
                throw SSHKeyError.file(path: path, reason: String(cString: strerror(errno)))
            }
            written += result
        }
    }
}
