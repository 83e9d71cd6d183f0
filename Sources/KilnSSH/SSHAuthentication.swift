import NIOCore
import NIOSSH

/// How the client proves who it is.
public enum SSHAuthentication: Sendable {
    case privateKey(SSHKeyPair)
    case password(String)

    /// "publickey (ssh-ed25519 SHA256:...)" or "password", for error messages.
    var methodDescription: String {
        switch self {
        case .privateKey(let key): return "publickey (\(SSHKeyPair.keyType) \(key.fingerprint))"
        case .password: return "password"
        }
    }
}

/// Which host key the client trusts.
public enum SSHHostKeyPolicy: Sendable {
    /// Only the key of this public key line (`ssh-ed25519 AAAA... [comment]`).
    case pinned(String)
    /// Any key; `SSHClient.serverHostKey` tells which one was presented.
    case acceptAny
}

/// Offers the one credential it has, once; a second request means the server refused it.
final class CredentialOfferer: NIOSSHClientUserAuthenticationDelegate {
    private let username: String
    private let authentication: SSHAuthentication
    private var offered = false

    init(username: String, authentication: SSHAuthentication) {
        self.username = username
        self.authentication = authentication
    }

    func nextAuthenticationType(
        availableMethods: NIOSSHAvailableUserAuthenticationMethods,
        nextChallengePromise: EventLoopPromise<NIOSSHUserAuthenticationOffer?>
    ) {
        let offer: NIOSSHUserAuthenticationOffer.Offer
        switch authentication {
        case .privateKey(let key) where availableMethods.contains(.publicKey):
            offer = .privateKey(.init(privateKey: NIOSSHPrivateKey(ed25519Key: key.privateKey)))
        case .password(let password) where availableMethods.contains(.password):
            offer = .password(.init(password: password))
        default:
            return refuse(availableMethods, nextChallengePromise)
        }
        guard !offered else { return refuse(availableMethods, nextChallengePromise) }
        offered = true
        nextChallengePromise.succeed(.init(username: username, serviceName: "", offer: offer))
    }

    // Failing the promise (rather than answering nil, which stalls NIOSSH) surfaces the error in
    // the pipeline, where ConnectionStateHandler reports it.
    private func refuse(
        _ methods: NIOSSHAvailableUserAuthenticationMethods,
        _ promise: EventLoopPromise<NIOSSHUserAuthenticationOffer?>
    ) {
        var names: [String] = []
        if methods.contains(.publicKey) { names.append("publickey") }
        if methods.contains(.password) { names.append("password") }
        if methods.contains(.hostBased) { names.append("hostbased") }
        promise.fail(SSHClientError.authenticationFailed(
            username: username, method: authentication.methodDescription, serverMethods: names))
    }
}

/// Checks the server's host key against the policy and remembers which key was presented.
final class HostKeyValidator: NIOSSHClientServerAuthenticationDelegate {
    private let pinned: (key: NIOSSHPublicKey, line: String)?
    private let progress: HandshakeProgress

    init(pinned: (key: NIOSSHPublicKey, line: String)?, progress: HandshakeProgress) {
        self.pinned = pinned
        self.progress = progress
    }

    func validateHostKey(hostKey: NIOSSHPublicKey, validationCompletePromise: EventLoopPromise<Void>) {
        let presentedLine = String(openSSHPublicKey: hostKey)
        progress.presentedHostKey = presentedLine
        if let pinned, pinned.key != hostKey {
            let expected = (try? SSHFingerprint.sha256(ofPublicKeyLine: pinned.line)) ?? pinned.line
            let presented = (try? SSHFingerprint.sha256(ofPublicKeyLine: presentedLine)) ?? presentedLine
            validationCompletePromise.fail(SSHClientError.hostKeyMismatch(
                expectedFingerprint: expected, presentedFingerprint: presented))
            return
        }
        progress.hostKeyAccepted = true
        validationCompletePromise.succeed(())
    }
}

/// What the handshake got through, shared by one connection's handlers on its event loop.
final class HandshakeProgress {
    var presentedHostKey: String?
    var hostKeyAccepted = false
}
