import Foundation
import KilnCore
import KilnSSH

/// Connects to a guest over SSH (swift-nio-ssh), one attempt per call: the engine polls.
public struct SSHGuestConnector: GuestConnector {
    /// For the TCP connection.
    public var connectTimeout: Duration
    /// From TCP connected to authenticated; generous because a guest under TCG is slow, and a
    /// port forward to a guest whose sshd is not up yet accepts and then says nothing.
    public var handshakeTimeout: Duration

    public init(connectTimeout: Duration = .seconds(3), handshakeTimeout: Duration = .seconds(15)) {
        self.connectTimeout = connectTimeout
        self.handshakeTimeout = handshakeTimeout
    }

    public func connect(_ endpoint: GuestEndpoint) async throws -> any GuestShell {
        let auth = try Self.authentication(endpoint.credentials)
        let hostKey: SSHHostKeyPolicy
        switch endpoint.hostKey {
        case .pinned(let line): hostKey = .pinned(line)
        case .acceptAny: hostKey = .acceptAny
        }
        do {
            let client = try await SSHClient.connect(
                host: endpoint.host, port: endpoint.port, username: endpoint.username, auth: auth,
                hostKey: hostKey, connectTimeout: connectTimeout, handshakeTimeout: handshakeTimeout)
            return SSHGuestShell(client: client)
        } catch {
            throw Self.connectionError(error, endpoint)
        }
    }

    static func authentication(_ credentials: GuestCredentials) throws -> SSHAuthentication {
        switch credentials {
        case .password(let password):
            return .password(password)
        case .privateKey(let path):
            do {
                return .privateKey(try SSHKeyPair(contentsOfPrivateKeyFile: path))
            } catch {
                throw KilnError(.ssh, "cannot use the SSH private key \(path): \(error)", cause: error)
            }
        }
    }

    static func connectionError(_ error: any Error, _ endpoint: GuestEndpoint) -> any Error {
        if error is CancellationError { return KilnError(.cancelled, "interrupted") }
        let address = "\(endpoint.host):\(endpoint.port)"
        guard let error = error as? SSHClientError else {
            return KilnError.wrap(error, as: .ssh, "cannot connect to the guest at \(address)")
        }
        switch error {
        case .authenticationFailed:
            var message = "the guest at \(address) refused SSH login: \(error)"
            if case .privateKey(let path) = endpoint.credentials { message += " using key \(path)" }
            return KilnError(.ssh, message, hint: "check the ssh username in the template and that the guest "
                + "received the build's key (seed) or accepts the given password", cause: error)
        case .hostKeyMismatch:
            return KilnError(.ssh, "the guest at \(address) is not the expected machine: \(error)",
                             hint: "the guest must use the host key Kiln seeded; an image that regenerates "
                                + "its SSH host keys at boot needs `seed: none` or a pinned key",
                             cause: error)
        default:
            return KilnError(.ssh, "cannot connect to the guest at \(address): \(error)", cause: error)
        }
    }
}
