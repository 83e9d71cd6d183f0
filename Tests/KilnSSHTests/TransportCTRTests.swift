#if canImport(_CryptoExtras)
import Crypto
import Foundation
import NIOCore
import NIOPosix
import NIOSSH
import Testing
@testable import KilnSSH

/// The four AES-CTR + HMAC-SHA-256 schemes, with their known-answer vectors.
///
/// The vectors were computed independently with Python's `cryptography` (one AES-CTR stream
/// across both packets) and `hmac`/`hashlib`: AES key = bytes 0x00, 0x01, ... (16 or 32 of them),
/// IV 0011223344556677fffffffffffffffe (so the counter carries into its high 64 bits during the
/// second packet), MAC key = bytes 0x20...0x3f, sequence numbers 7 and 8, RFC 4253 padding of
/// repeated 0xA5 / 0x5A bytes. Each vector is the wire form: packet then MAC.
enum CTRScheme: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case aes128 = "aes128-ctr + hmac-sha2-256"
    case aes256 = "aes256-ctr + hmac-sha2-256"
    case aes128ETM = "aes128-ctr + hmac-sha2-256-etm"
    case aes256ETM = "aes256-ctr + hmac-sha2-256-etm"

    var testDescription: String { rawValue }

    var type: (NIOSSHTransportProtection & SendableMetatype).Type {
        switch self {
        case .aes128: return AES128CTRHMACSHA256TransportProtection.self
        case .aes256: return AES256CTRHMACSHA256TransportProtection.self
        case .aes128ETM: return AES128CTRHMACSHA256ETMTransportProtection.self
        case .aes256ETM: return AES256CTRHMACSHA256ETMTransportProtection.self
        }
    }

    var lengthEncrypted: Bool { self == .aes128 || self == .aes256 }

    var aesKeyByteCount: Int { self == .aes128 || self == .aes128ETM ? 16 : 32 }

    var wireVectors: [String] {
        switch self {
        case .aes128:
            return [
                "551ce90c08b73b9bdd698ea0ef98e8af84adf02f6117677069c36b00b8c7b545"
                    + "1e3869554e47a0513ed98610ac02ac078789047c5d5edec34e7673c89af61a1f",
                "57066b6a746eacb9f06c32f402ded66991ff05334b9e54ed0a6e062a68fb699a"
                    + "f9ef325c6e8ff3381a9b763005d7a60dc794be6c9d53cd5eb59b865b437eed0f",
            ]
        case .aes256:
            return [
                "69ca48a72a8a2af26743958e113b0f5e645feeec910513f68702f21ea8bb5e28"
                    + "1e3869554e47a0513ed98610ac02ac078789047c5d5edec34e7673c89af61a1f",
                "40a665ac0b32a59af37a91b80af02c9580ffd9b95f51a61585c51bd9fe557654"
                    + "f9ef325c6e8ff3381a9b763005d7a60dc794be6c9d53cd5eb59b865b437eed0f",
            ]
        case .aes128ETM:
            return [
                "0000001050748c7c75b07e9cd86ac06e235123af"
                    + "20902fcc8168f2c1cef6cee96ce71c9506b25909217081d488a8410f793f2e41",
                "000000202b6b3affaac6a7a7ec05bcca6e11759377343540462c9996c4420ddc78e7fe5c"
                    + "5651bd224f8da4abd0e826348d2d92b733fa7e467937faf477f4a3109e226545",
            ]
        case .aes256ETM:
            return [
                "000000106ca22dd7578d6ff56240db40ddf2c45e"
                    + "1f70ec823dd0bb82985cb7397a1c3b233a6baef0e3ec32332c1593f3f345887f",
                "00000020cb99243c5ad4d32102c425d47e6d9efe60943b86397090b5c754ae9070c904a0"
                    + "a6831b072ee00049eba39b3244a2e82084dba5bfb56085345798fff70eabb8a2",
            ]
        }
    }
}

/// The packets and keys behind `CTRScheme.wireVectors`.
private enum CTRVectorInputs {
    static let packets: [(sequenceNumber: UInt32, payload: String, paddingByte: UInt8)] = [
        (7, "hello kiln", 0xA5),
        (8, "counter crosses 2^64!", 0x5A),
    ]
    static let iv = bytes(hex: "0011223344556677fffffffffffffffe")
    static let macKey = SymmetricKey(data: Array(UInt8(0x20)...UInt8(0x3f)))

    /// The same keys in both directions, so one instance can seal what another opens.
    static func keys(aesKeyByteCount: Int) -> NIOSSHSessionKeys {
        let aesKey = SymmetricKey(data: (0..<aesKeyByteCount).map { UInt8($0) })
        return NIOSSHSessionKeys(
            initialInboundIV: iv, initialOutboundIV: iv,
            inboundEncryptionKey: aesKey, outboundEncryptionKey: aesKey,
            inboundMACKey: macKey, outboundMACKey: macKey)
    }
}

/// Lays out `packet_length || padding_length || payload || padding` as NIOSSH's serializer
/// does: the padded region is a multiple of 16 bytes, with at least 4 bytes of padding.
private func plaintextPacket(payload: [UInt8], paddingByte: UInt8, lengthEncrypted: Bool) -> ByteBuffer {
    let unpadded = (lengthEncrypted ? 5 : 1) + payload.count
    var padding = 16 - unpadded % 16
    if padding < 4 { padding += 16 }
    var buffer = ByteBuffer()
    buffer.writeInteger(UInt32(1 + payload.count + padding))
    buffer.writeInteger(UInt8(padding))
    buffer.writeBytes(payload)
    buffer.writeBytes([UInt8](repeating: paddingByte, count: padding))
    return buffer
}

/// Opens one wire packet the way NIOSSH's parser drives a transport protection.
private func openPacket(_ wire: [UInt8], with protection: NIOSSHTransportProtection, sequenceNumber: UInt32) throws -> [UInt8] {
    var received = ByteBuffer(bytes: wire)
    try protection.decryptFirstBlock(&received)
    let packetLength = Int(received.getInteger(at: received.readerIndex, as: UInt32.self)!)
    #expect(4 + packetLength + protection.macBytes == wire.count)
    var packet = received.readSlice(length: wire.count)!
    var payload = try protection.decryptAndVerifyRemainingPacket(&packet, sequenceNumber: sequenceNumber)
    #expect(packet.readableBytes == 0)
    return payload.readBytes(length: payload.readableBytes)!
}

private func sealPacket(_ payload: [UInt8], with protection: NIOSSHTransportProtection, sequenceNumber: UInt32,
                  paddingByte: UInt8 = 0x33) throws -> [UInt8] {
    var packet = plaintextPacket(payload: payload, paddingByte: paddingByte, lengthEncrypted: protection.lengthEncrypted)
    try protection.encryptPacket(&packet, sequenceNumber: sequenceNumber)
    return packet.readBytes(length: packet.readableBytes)!
}

private func bytes(hex: String) -> [UInt8] {
    var result = [UInt8]()
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        result.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return result
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

@Suite struct TransportCTRTests {
    @Test(arguments: CTRScheme.allCases)
    func sealsKnownAnswerVectors(scheme: CTRScheme) throws {
        let sender = try scheme.type.init(initialKeys: CTRVectorInputs.keys(aesKeyByteCount: scheme.aesKeyByteCount))
        for (packet, expected) in zip(CTRVectorInputs.packets, scheme.wireVectors) {
            let wire = try sealPacket(Array(packet.payload.utf8), with: sender, sequenceNumber: packet.sequenceNumber,
                                paddingByte: packet.paddingByte)
            #expect(hex(wire) == expected)
        }
    }

    @Test(arguments: CTRScheme.allCases)
    func opensKnownAnswerVectors(scheme: CTRScheme) throws {
        let receiver = try scheme.type.init(initialKeys: CTRVectorInputs.keys(aesKeyByteCount: scheme.aesKeyByteCount))
        for (packet, wire) in zip(CTRVectorInputs.packets, scheme.wireVectors) {
            let payload = try openPacket(bytes(hex: wire), with: receiver, sequenceNumber: packet.sequenceNumber)
            #expect(String(decoding: payload, as: UTF8.self) == packet.payload)
        }
    }

    @Test(arguments: CTRScheme.allCases)
    func roundTripsBetweenClientAndServer(scheme: CTRScheme) throws {
        let (clientKeys, serverKeys) = Self.keyPair(aesKeyByteCount: scheme.aesKeyByteCount)
        let client = try scheme.type.init(initialKeys: clientKeys)
        let server = try scheme.type.init(initialKeys: serverKeys)
        for (sequenceNumber, size) in [0, 1, 11, 12, 15, 16, 31, 200, 4096].enumerated() {
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ sequenceNumber) }
            let toServer = try sealPacket(payload, with: client, sequenceNumber: UInt32(sequenceNumber))
            #expect(try openPacket(toServer, with: server, sequenceNumber: UInt32(sequenceNumber)) == payload)
            let toClient = try sealPacket(payload, with: server, sequenceNumber: UInt32(sequenceNumber))
            #expect(try openPacket(toClient, with: client, sequenceNumber: UInt32(sequenceNumber)) == payload)
        }
    }

    @Test(arguments: CTRScheme.allCases)
    func rekeyingRestartsTheKeystream(scheme: CTRScheme) throws {
        let keys = CTRVectorInputs.keys(aesKeyByteCount: scheme.aesKeyByteCount)
        let sender = try scheme.type.init(initialKeys: keys)
        _ = try sealPacket(Array("before rekey".utf8), with: sender, sequenceNumber: 1)
        try sender.updateKeys(keys)
        let first = CTRVectorInputs.packets[0]
        let wire = try sealPacket(Array(first.payload.utf8), with: sender, sequenceNumber: first.sequenceNumber,
                            paddingByte: first.paddingByte)
        #expect(hex(wire) == scheme.wireVectors[0])
    }

    @Test(arguments: CTRScheme.allCases)
    func rejectsAlteredCiphertext(scheme: CTRScheme) throws {
        let keys = CTRVectorInputs.keys(aesKeyByteCount: scheme.aesKeyByteCount)
        var wire = bytes(hex: scheme.wireVectors[0])
        wire[10] ^= 0x01  // a payload byte: past the length field, inside the ciphertext
        let receiver = try scheme.type.init(initialKeys: keys)
        #expect(throws: SSHTransportProtectionError.macMismatch(sequenceNumber: 7)) {
            try openPacket(wire, with: receiver, sequenceNumber: 7)
        }
    }

    @Test(arguments: CTRScheme.allCases)
    func rejectsAlteredMACAndWrongSequenceNumber(scheme: CTRScheme) throws {
        let keys = CTRVectorInputs.keys(aesKeyByteCount: scheme.aesKeyByteCount)
        var wire = bytes(hex: scheme.wireVectors[0])
        wire[wire.count - 1] ^= 0x80
        #expect(throws: SSHTransportProtectionError.macMismatch(sequenceNumber: 7)) {
            try openPacket(wire, with: try scheme.type.init(initialKeys: keys), sequenceNumber: 7)
        }
        #expect(throws: SSHTransportProtectionError.macMismatch(sequenceNumber: 6)) {
            try openPacket(bytes(hex: scheme.wireVectors[0]), with: try scheme.type.init(initialKeys: keys), sequenceNumber: 6)
        }
    }

    @Test(arguments: CTRScheme.allCases)
    func rejectsPacketLengthThatIsNotWholeBlocks(scheme: CTRScheme) throws {
        let protection = try scheme.type.init(initialKeys: CTRVectorInputs.keys(aesKeyByteCount: scheme.aesKeyByteCount))
        // A clear-length packet of 20 bytes: not a whole number of blocks for either placement.
        var packet = ByteBuffer()
        packet.writeInteger(UInt32(20))
        packet.writeBytes([UInt8](repeating: 0, count: 20 + protection.macBytes))
        if scheme.lengthEncrypted {
            // Pretend the first block was already decrypted to this length.
            try protection.decryptFirstBlock(&packet)
            packet.setInteger(UInt32(20), at: packet.readerIndex)
        }
        #expect(throws: SSHTransportProtectionError.invalidPacketLength(20)) {
            _ = try protection.decryptAndVerifyRemainingPacket(&packet, sequenceNumber: 0)
        }
    }

    @Test(arguments: CTRScheme.allCases)
    func rejectsKeysOfTheWrongSize(scheme: CTRScheme) {
        var keys = CTRVectorInputs.keys(aesKeyByteCount: scheme.aesKeyByteCount == 16 ? 32 : 16)
        #expect(throws: SSHTransportProtectionError.self) { try scheme.type.init(initialKeys: keys) }
        keys = CTRVectorInputs.keys(aesKeyByteCount: scheme.aesKeyByteCount)
        keys.initialInboundIV = Array(keys.initialInboundIV.prefix(12))
        #expect(throws: SSHTransportProtectionError.self) { try scheme.type.init(initialKeys: keys) }
        keys = CTRVectorInputs.keys(aesKeyByteCount: scheme.aesKeyByteCount)
        keys.outboundMACKey = SymmetricKey(size: .bits128)
        #expect(throws: SSHTransportProtectionError.self) { try scheme.type.init(initialKeys: keys) }
    }

    @Test func namesAndSizesMatchTheRFCs() {
        #expect(AES128CTRHMACSHA256TransportProtection.cipherName == "aes128-ctr")
        #expect(AES128CTRHMACSHA256TransportProtection.macName == "hmac-sha2-256")
        #expect(AES256CTRHMACSHA256ETMTransportProtection.cipherName == "aes256-ctr")
        #expect(AES256CTRHMACSHA256ETMTransportProtection.macName == "hmac-sha2-256-etm@openssh.com")
        let sizes = AES256CTRHMACSHA256TransportProtection.keySizes
        #expect(sizes.ivSize == 16 && sizes.encryptionKeySize == 32 && sizes.macKeySize == 32)
        #expect(AES128CTRHMACSHA256TransportProtection.cipherBlockSize == 16)
    }

    @Test func kilnSchemesPreferGCMThenOfferCounterMode() {
        let names = KilnTransportSchemes.all.map { "\($0.cipherName) \($0.macName ?? "-")" }
        #expect(names == [
            "aes256-gcm@openssh.com -", "aes128-gcm@openssh.com -",
            "aes128-ctr hmac-sha2-256-etm@openssh.com", "aes256-ctr hmac-sha2-256-etm@openssh.com",
            "aes128-ctr hmac-sha2-256", "aes256-ctr hmac-sha2-256",
        ])
    }

    /// Distinct keys per direction, mirrored between the two peers.
    private static func keyPair(aesKeyByteCount: Int) -> (client: NIOSSHSessionKeys, server: NIOSSHSessionKeys) {
        let aesBits = SymmetricKeySize(bitCount: aesKeyByteCount * 8)
        let toServerKey = SymmetricKey(size: aesBits), toClientKey = SymmetricKey(size: aesBits)
        let toServerMAC = SymmetricKey(size: .bits256), toClientMAC = SymmetricKey(size: .bits256)
        let toServerIV = (0..<16).map { _ in UInt8.random(in: 0...255) }
        let toClientIV = (0..<16).map { _ in UInt8.random(in: 0...255) }
        let client = NIOSSHSessionKeys(
            initialInboundIV: toClientIV, initialOutboundIV: toServerIV,
            inboundEncryptionKey: toClientKey, outboundEncryptionKey: toServerKey,
            inboundMACKey: toClientMAC, outboundMACKey: toServerMAC)
        let server = NIOSSHSessionKeys(
            initialInboundIV: toServerIV, initialOutboundIV: toClientIV,
            inboundEncryptionKey: toServerKey, outboundEncryptionKey: toClientKey,
            inboundMACKey: toServerMAC, outboundMACKey: toClientMAC)
        return (client, server)
    }
}

// MARK: - Against real servers (KILN_INTEGRATION=1)

@Suite(.enabled(if: ProcessInfo.processInfo.environment["KILN_INTEGRATION"] == "1"), .serialized)
struct TransportCTRIntegrationTests {
    /// Dropbear 2022.83 offers aes128-ctr/aes256-ctr with hmac-sha1/hmac-sha2-256 only.
    @Test(arguments: [CTRScheme.aes128, .aes256])
    func dropbearRunsACommandOverCounterMode(scheme: CTRScheme) async throws {
        let userKey = Curve25519.Signing.PrivateKey()
        let result = try await CTRTestServer.withDropbear(authorizing: userKey) { port in
            try await CTRExecClient.run("echo ok", port: port, key: userKey, schemes: [scheme.type])
        }
        #expect(result == CTRExecClient.Result(output: "ok\n", exitStatus: 0))
    }

    /// The failure this scheme exists for: NIOSSH's own list is GCM only, which dropbear lacks.
    @Test func dropbearRejectsNIOSSHBundledSchemes() async throws {
        let userKey = Curve25519.Signing.PrivateKey()
        let failure = await #expect(throws: CTRTestServer.SessionFailed.self) {
            try await CTRTestServer.withDropbear(authorizing: userKey) { port in
                try await CTRExecClient.run(
                    "echo ok", port: port, key: userKey, schemes: NIOSSH.Constants.bundledTransportProtectionSchemes)
            }
        }
        #expect((failure?.underlying as? NIOSSHError)?.type == .keyExchangeNegotiationFailure)
    }

    /// The list the client offers: dropbear has no GCM, so it must settle on a counter-mode scheme.
    @Test func dropbearAcceptsKilnTransportSchemes() async throws {
        let userKey = Curve25519.Signing.PrivateKey()
        let result = try await CTRTestServer.withDropbear(authorizing: userKey) { port in
            try await CTRExecClient.run("echo ok", port: port, key: userKey, schemes: KilnTransportSchemes.all)
        }
        #expect(result == CTRExecClient.Result(output: "ok\n", exitStatus: 0))
    }

    /// sshd is told to accept exactly this cipher and MAC, so nothing else can be negotiated.
    @Test(arguments: CTRScheme.allCases)
    func openSSHRunsACommandOverCounterMode(scheme: CTRScheme) async throws {
        let userKey = Curve25519.Signing.PrivateKey()
        let result = try await CTRTestServer.withOpenSSH(
            authorizing: userKey, cipher: scheme.type.cipherName, mac: scheme.type.macName!
        ) { port in
            try await CTRExecClient.run("echo ok", port: port, key: userKey, schemes: [scheme.type])
        }
        #expect(result == CTRExecClient.Result(output: "ok\n", exitStatus: 0))
    }

    /// Enough data to cross many packets and window adjustments in both directions of the keystream.
    @Test func dropbearStreamsLargeOutput() async throws {
        let userKey = Curve25519.Signing.PrivateKey()
        let result = try await CTRTestServer.withDropbear(authorizing: userKey) { port in
            try await CTRExecClient.run(
                "head -c 1000000 /dev/zero | tr '\\0' x", port: port, key: userKey,
                schemes: [AES128CTRHMACSHA256TransportProtection.self])
        }
        #expect(result.exitStatus == 0)
        #expect(result.output == String(repeating: "x", count: 1_000_000))
    }
}

/// A dropbear or sshd on 127.0.0.1 that authorizes one ed25519 key; always stopped on return.
enum CTRTestServer {
    static func withDropbear<T: Sendable>(
        authorizing userKey: Curve25519.Signing.PrivateKey, _ body: @Sendable (Int) async throws -> T
    ) async throws -> T {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let keygen = try runTool("/usr/bin/dropbearkey", ["-t", "ed25519", "-f", directory.file("host_key")])
        guard keygen.status == 0 else { throw ServerFailed(log: keygen.stderr) }
        // Dropbear 2022.83 reads only ~/.ssh/authorized_keys of the login user, so the server runs in
        // a private mount namespace where a scratch home is bind-mounted over the real one.
        let home = directory.file("home")
        try writeAuthorizedKeys(userKey, into: home)
        let port = try freeLoopbackPort()
        let dropbear = [
            "/usr/sbin/dropbear", "-F", "-E", "-s", "-p", "127.0.0.1:\(port)",
            "-r", directory.file("host_key"), "-P", directory.file("dropbear.pid"),
        ]
        let realHome = try loginHome()
        let arguments = ["--mount", "--propagation", "private", "/bin/sh", "-c",
                         #"mount --bind "$1" "$2" && shift 2 && exec "$@""#, "sh", home, realHome] + dropbear
        return try await withServer("/usr/bin/unshare", arguments, port: port, log: directory.file("server.log"), body)
    }

    static func withOpenSSH<T: Sendable>(
        authorizing userKey: Curve25519.Signing.PrivateKey, cipher: String, mac: String,
        _ body: @Sendable (Int) async throws -> T
    ) async throws -> T {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let keygen = try runTool("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", directory.file("host_key")])
        guard keygen.status == 0 else { throw ServerFailed(log: keygen.stderr) }
        try writeAuthorizedKeys(userKey, into: directory.path)
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        let port = try freeLoopbackPort()
        let arguments = [
            "-D", "-e", "-f", "/dev/null", "-p", "\(port)",
            "-o", "HostKey=\(directory.file("host_key"))",
            "-o", "AuthorizedKeysFile=\(directory.file(".ssh/authorized_keys"))",
            "-o", "ListenAddress=127.0.0.1", "-o", "PidFile=none", "-o", "UsePAM=no", "-o", "StrictModes=no",
            "-o", "Ciphers=\(cipher)", "-o", "MACs=\(mac)",
        ]
        return try await withServer("/usr/sbin/sshd", arguments, port: port, log: directory.file("server.log"), body)
    }

    private static func withServer<T: Sendable>(
        _ executable: String, _ arguments: [String], port: Int, log logPath: String,
        _ body: @Sendable (Int) async throws -> T
    ) async throws -> T {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        let serverLog = { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
        guard try await waitUntilListening(port: port, process: process) else {
            throw ServerFailed(log: serverLog())
        }
        do {
            return try await body(port)
        } catch {
            throw SessionFailed(underlying: error, log: serverLog())
        }
    }

    private static func writeAuthorizedKeys(_ userKey: Curve25519.Signing.PrivateKey, into home: String) throws {
        let sshDirectory = home + "/.ssh"
        try FileManager.default.createDirectory(
            atPath: sshDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: home)
        let line = String(openSSHPublicKey: NIOSSHPrivateKey(ed25519Key: userKey).publicKey) + "\n"
        try line.write(toFile: sshDirectory + "/authorized_keys", atomically: true, encoding: .utf8)
    }

    /// The home directory dropbear looks in: the passwd entry's, not $HOME.
    private static func loginHome() throws -> String {
        guard let entry = getpwuid(getuid()) else { throw ServerFailed(log: "no passwd entry for uid \(getuid())") }
        return String(cString: entry.pointee.pw_dir)
    }

    /// Polls for a listener for at most 10 s; false when the server exits or never listens.
    private static func waitUntilListening(port: Int, process: Process) async throws -> Bool {
        for _ in 0..<200 {
            guard process.isRunning else { return false }
            if (try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).flatMap { $0.close() }.get()) != nil {
                return true
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    struct ServerFailed: Error, CustomStringConvertible {
        var log: String
        var description: String { "the SSH server did not start:\n\(log)" }
    }

    /// The client failed against a running server; carries the server's log for diagnosis.
    struct SessionFailed: Error, CustomStringConvertible {
        var underlying: any Error
        var log: String
        var description: String { "\(underlying)\nserver log:\n\(log)" }
    }
}

/// Just enough of an NIOSSH client to prove a transport: public-key login, any host key, one exec.
private enum CTRExecClient {
    struct Result: Equatable, Sendable {
        var output: String
        var exitStatus: Int?
    }

    static func run(
        _ command: String, port: Int, key: Curve25519.Signing.PrivateKey,
        schemes: [(NIOSSHTransportProtection & SendableMetatype).Type]
    ) async throws -> Result {
        let username = String(cString: getpwuid(getuid())!.pointee.pw_name)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let finished = loop.makePromise(of: Result.self)
        let connection: any Channel
        do {
            connection = try await ClientBootstrap(group: loop)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let configuration = SSHClientConfiguration(
                            userAuthDelegate: OfferKeyOnce(username: username, key: NIOSSHPrivateKey(ed25519Key: key)),
                            serverAuthDelegate: AcceptAnyHostKey(),
                            transportProtectionSchemes: schemes)
                        let handlers: [any ChannelHandler] = [
                            NIOSSHHandler(role: .client(configuration), allocator: channel.allocator,
                                          inboundChildChannelInitializer: nil),
                            FailOnError(finished: finished),
                        ]
                        try channel.pipeline.syncOperations.addHandlers(handlers)
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
        } catch {
            finished.fail(error)
            throw error
        }
        // Bounds the whole exchange: closing the connection completes every pending future.
        let deadline = loop.scheduleTask(in: .seconds(60)) {
            finished.fail(TimedOut())
            connection.close(promise: nil)
        }
        defer { deadline.cancel() }
        do {
            try await loop.flatSubmit {
                let session = loop.makePromise(of: Channel.self)
                do {
                    let ssh = try connection.pipeline.syncOperations.handler(type: NIOSSHHandler.self)
                    ssh.createChannel(session, channelType: .session) { child, _ in
                        child.eventLoop.makeCompletedFuture {
                            try child.syncOptions!.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                            try child.pipeline.syncOperations.addHandler(
                                ExecCollector(command: command, finished: finished))
                        }
                    }
                } catch {
                    session.fail(error)
                }
                return session.futureResult.map { _ in }
            }.get()
            let result = try await finished.futureResult.get()
            try? await connection.close()
            return result
        } catch {
            // An error the connection reported first (key exchange, MAC) says more than the
            // failed channel creation that followed it.
            finished.fail(error)
            try? await connection.close()
            _ = try await finished.futureResult.get()
            throw error
        }
    }

    private final class OfferKeyOnce: NIOSSHClientUserAuthenticationDelegate {
        private let username: String
        private var key: NIOSSHPrivateKey?

        init(username: String, key: NIOSSHPrivateKey) {
            self.username = username
            self.key = key
        }

        func nextAuthenticationType(
            availableMethods: NIOSSHAvailableUserAuthenticationMethods,
            nextChallengePromise: EventLoopPromise<NIOSSHUserAuthenticationOffer?>
        ) {
            guard let key, availableMethods.contains(.publicKey) else {
                nextChallengePromise.succeed(nil)
                return
            }
            self.key = nil
            nextChallengePromise.succeed(
                NIOSSHUserAuthenticationOffer(username: username, serviceName: "", offer: .privateKey(.init(privateKey: key))))
        }
    }

    private final class AcceptAnyHostKey: NIOSSHClientServerAuthenticationDelegate {
        func validateHostKey(hostKey: NIOSSHPublicKey, validationCompletePromise: EventLoopPromise<Void>) {
            validationCompletePromise.succeed()
        }
    }

    /// Surfaces connection-level errors (key exchange, MAC, authentication) as the test's failure.
    private final class FailOnError: ChannelInboundHandler {
        typealias InboundIn = Any
        private let finished: EventLoopPromise<Result>

        init(finished: EventLoopPromise<Result>) { self.finished = finished }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finished.fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            finished.fail(ChannelError.eof)
            context.fireChannelInactive()
        }
    }

    private final class ExecCollector: ChannelInboundHandler {
        typealias InboundIn = SSHChannelData
        private let command: String
        private let finished: EventLoopPromise<Result>
        private var output = ByteBuffer()
        private var exitStatus: Int?

        init(command: String, finished: EventLoopPromise<Result>) {
            self.command = command
            self.finished = finished
        }

        func channelActive(context: ChannelHandlerContext) {
            let exec = SSHChannelRequestEvent.ExecRequest(command: command, wantReply: true)
            context.triggerUserOutboundEvent(exec, promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let message = unwrapInboundIn(data)
            guard case .channel = message.type, case .byteBuffer(var bytes) = message.data else { return }
            output.writeBuffer(&bytes)
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            switch event {
            case let status as SSHChannelRequestEvent.ExitStatus:
                exitStatus = status.exitStatus
            case is ChannelFailureEvent:
                finished.fail(ChannelError.operationUnsupported)
                context.close(promise: nil)
            default:
                context.fireUserInboundEventTriggered(event)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            finished.succeed(Result(output: String(buffer: output), exitStatus: exitStatus))
            context.fireChannelInactive()
        }
    }
}
#endif
