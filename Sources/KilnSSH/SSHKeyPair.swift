import Crypto
import Foundation

/// An ed25519 key pair in the forms OpenSSH uses: the public key line of `authorized_keys`,
/// the `openssh-key-v1` private key file, and the `SHA256:` fingerprint `ssh-keygen -l` prints.
public struct SSHKeyPair: Sendable {
    public static let keyType = "ssh-ed25519"

    public let privateKey: Curve25519.Signing.PrivateKey
    /// Written after the key in the public line and inside the private key file.
    public var comment: String

    public init(privateKey: Curve25519.Signing.PrivateKey, comment: String = "") {
        self.privateKey = privateKey
        self.comment = comment
    }

    public static func generate(comment: String = "") -> SSHKeyPair {
        SSHKeyPair(privateKey: Curve25519.Signing.PrivateKey(), comment: comment)
    }

    /// The SSH wire encoding of the public key: string "ssh-ed25519", string key.
    public var publicKeyBlob: [UInt8] {
        var writer = SSHWireWriter()
        writer.writeString(Self.keyType)
        writer.writeString(Array(privateKey.publicKey.rawRepresentation))
        return writer.bytes
    }

    /// `ssh-ed25519 AAAA... comment` (without the trailing comment when it is empty).
    public var publicKeyLine: String {
        let key = "\(Self.keyType) \(Data(publicKeyBlob).base64EncodedString())"
        return comment.isEmpty ? key : "\(key) \(comment)"
    }

    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    public var fingerprint: String {
        SSHFingerprint.sha256(ofBlob: publicKeyBlob)
    }
}

public enum SSHFingerprint {
    /// The SHA256 fingerprint of a wire-encoded public key: unpadded base64 of its digest.
    public static func sha256(ofBlob blob: [UInt8]) -> String {
        let digest = Data(SHA256.hash(data: blob)).base64EncodedString()
        return "SHA256:" + digest.trimmingCharacters(in: CharacterSet(charactersIn: "="))
    }

    /// The fingerprint of a public key line `TYPE BASE64 [comment]`, for any key type.
    public static func sha256(ofPublicKeyLine line: String) throws -> String {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2, let blob = Data(base64Encoded: String(fields[1])) else {
            throw SSHKeyError.invalidPublicKeyLine(line)
        }
        return sha256(ofBlob: Array(blob))
    }
}
