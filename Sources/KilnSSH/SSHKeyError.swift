/// Why a key or key file could not be used.
public enum SSHKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text is not an `-----BEGIN OPENSSH PRIVATE KEY-----` file (PEM RSA/EC keys, public keys...).
    case notOpenSSHPrivateKey
    /// The key file is protected by a passphrase.
    case encrypted(cipher: String)
    /// Only ed25519 keys are supported.
    case unsupportedKeyType(String)
    /// The file has the right armour but its content does not hold together.
    case corrupt(String)
    /// A public key line that is not `ssh-ed25519 BASE64 [comment]` (or another known type).
    case invalidPublicKeyLine(String)
    /// Reading or writing a key file failed.
    case file(path: String, reason: String)

    public var description: String {
        switch self {
        case .notOpenSSHPrivateKey:
            return "not an OpenSSH private key (expected \"-----BEGIN OPENSSH PRIVATE KEY-----\")"
        case .encrypted(let cipher):
            return "the private key is encrypted with a passphrase (\(cipher)); "
                + "use an unencrypted key, e.g. a copy made with `ssh-keygen -p -N '' -f COPY`"
        case .unsupportedKeyType(let type):
            return "unsupported private key type \(type): only ssh-ed25519 keys are supported "
                + "(make one with `ssh-keygen -t ed25519`)"
        case .corrupt(let reason):
            return "corrupt OpenSSH private key: \(reason)"
        case .invalidPublicKeyLine(let line):
            return "not an OpenSSH public key line: \(line.prefix(60))"
        case .file(let path, let reason):
            return "\(path): \(reason)"
        }
    }
}
