import Foundation
import Testing
@testable import KilnSSH

@Suite struct SSHKeyPairTests {
    @Test func publicKeyLineHasTypeBlobAndComment() throws {
        let key = SSHKeyPair.generate(comment: "kiln-build")
        let fields = key.publicKeyLine.split(separator: " ")
        #expect(fields.count == 3)
        #expect(fields[0] == "ssh-ed25519")
        #expect(fields[2] == "kiln-build")
        #expect(Data(base64Encoded: String(fields[1])).map(Array.init) == key.publicKeyBlob)
        #expect(SSHKeyPair.generate().publicKeyLine.split(separator: " ").count == 2)
    }

    @Test func privateKeyFileRoundTrips() throws {
        let key = SSHKeyPair.generate(comment: "round trip")
        let text = key.openSSHPrivateKey
        #expect(text.hasPrefix("-----BEGIN OPENSSH PRIVATE KEY-----\n"))
        #expect(text.hasSuffix("-----END OPENSSH PRIVATE KEY-----\n"))
        let body = text.split(separator: "\n").dropFirst().dropLast()
        #expect(body.dropLast().allSatisfy { $0.count == 70 })
        let parsed = try SSHKeyPair(openSSHPrivateKey: text)
        #expect(parsed.privateKey.rawRepresentation == key.privateKey.rawRepresentation)
        #expect(parsed.comment == "round trip")
        #expect(parsed.publicKeyLine == key.publicKeyLine)
    }

    @Test func fingerprintIsUnpaddedBase64OfSHA256() throws {
        let key = SSHKeyPair.generate()
        #expect(key.fingerprint.hasPrefix("SHA256:"))
        #expect(key.fingerprint.count == 7 + 43)
        #expect(try SSHFingerprint.sha256(ofPublicKeyLine: key.publicKeyLine) == key.fingerprint)
    }

    @Test func rejectsWhatItCannotUse() throws {
        #expect(throws: SSHKeyError.notOpenSSHPrivateKey) {
            try SSHKeyPair(openSSHPrivateKey: "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")
        }
        let truncated = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n-----END OPENSSH PRIVATE KEY-----\n"
        #expect(throws: SSHKeyError.corrupt("truncated")) { try SSHKeyPair(openSSHPrivateKey: truncated) }
        #expect(throws: SSHKeyError.self) { try SSHFingerprint.sha256(ofPublicKeyLine: "garbage") }
    }

    @Test func writesThePrivateKeyWithMode0600() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("id_ed25519")
        _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644])
        try SSHKeyPair.generate().writePrivateKey(to: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    // ssh-keygen reads what we write, and agrees on the public key and the fingerprint.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh-keygen")))
    func sshKeygenAgrees() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = SSHKeyPair.generate(comment: "kiln@test")
        let path = directory.file("id_ed25519")
        try key.writePrivateKey(to: path)

        let publicLine = try runTool("/usr/bin/ssh-keygen", ["-y", "-f", path])
        #expect(publicLine.status == 0, "\(publicLine.stderr)")
        #expect(publicLine.stdout.split(separator: " ").prefix(2) == key.publicKeyLine.split(separator: " ").prefix(2))

        let listed = try runTool("/usr/bin/ssh-keygen", ["-l", "-f", path])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.split(separator: " ").dropFirst().first.map(String.init) == key.fingerprint)
    }

    // And we read what ssh-keygen writes, and refuse its encrypted and non-ed25519 keys clearly.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh-keygen")))
    func readsSSHKeygenKeys() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let plain = directory.file("plain")
        #expect(try runTool("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "me@host", "-f", plain]).status == 0)
        let parsed = try SSHKeyPair(contentsOfPrivateKeyFile: plain)
        let expectedLine = try String(contentsOfFile: plain + ".pub", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(parsed.publicKeyLine == expectedLine)

        let encrypted = directory.file("encrypted")
        #expect(try runTool("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "secret", "-f", encrypted]).status == 0)
        #expect(throws: SSHKeyError.encrypted(cipher: "aes256-ctr")) { try SSHKeyPair(contentsOfPrivateKeyFile: encrypted) }

        let ecdsa = directory.file("ecdsa")
        #expect(try runTool("/usr/bin/ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-f", ecdsa]).status == 0)
        #expect(throws: SSHKeyError.unsupportedKeyType("ecdsa-sha2-nistp256")) {
            try SSHKeyPair(contentsOfPrivateKeyFile: ecdsa)
        }
        #expect(throws: SSHKeyError.self) { try SSHKeyPair(contentsOfPrivateKeyFile: directory.file("missing")) }
    }
}
