import Foundation
import KilnCore
import KilnSSH

/// Makes a build's ephemeral key material: a client key to log in and a host key to pin.
public struct GuestKeys: KeyGenerator {
    public static let clientKeyFileName = "id_ed25519"

    public init() {}

    public func generate(in directory: String) throws -> BuildKeys {
        try Self.generate(in: directory)
    }

    /// Writes the client private key (0600) as `id_ed25519` in `directory`, created 0700 when
    /// missing; the host key stays in memory, to be seeded into the disk.
    public static func generate(in directory: String) throws -> BuildKeys {
        let client = SSHKeyPair.generate(comment: "kiln-build")
        let host = SSHKeyPair.generate(comment: "kiln-build-host")
        let path = (directory as NSString).appendingPathComponent(clientKeyFileName)
        do {
            if !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            try client.writePrivateKey(to: path)
        } catch {
            throw KilnError(.internal, "cannot write the build's SSH key to \(path): \(error)", cause: error)
        }
        return BuildKeys(clientPrivateKeyPath: path, authorizedKeyLine: client.publicKeyLine,
                         hostPrivateKeyOpenSSH: host.openSSHPrivateKey, hostPublicKeyLine: host.publicKeyLine)
    }
}
