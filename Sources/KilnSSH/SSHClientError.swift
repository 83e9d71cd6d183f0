import Foundation

/// Why a connection, a command or an upload failed. Each case reads as a sentence, because a
/// caller polling a booting guest reports the last one when it gives up.
public enum SSHClientError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Stage: String, Sendable {
        case tcpConnect = "TCP connect"
        case handshake = "SSH handshake"
    }

    /// Nothing listens on the port (yet).
    case connectionRefused(host: String, port: Int)
    /// The peer reset the TCP connection.
    case connectionReset(host: String, port: Int)
    /// The peer closed the connection before authentication completed (typical of a port
    /// forward whose guest side is not listening yet).
    case closedDuringHandshake(host: String, port: Int, afterKeyExchange: Bool)
    case timedOut(host: String, port: Int, stage: Stage, seconds: Double)
    /// Any other socket-level failure (unreachable network, name resolution...).
    case network(host: String, port: Int, reason: String)
    /// The server rejected the credentials, or offers no method we have.
    case authenticationFailed(username: String, method: String, serverMethods: [String])
    /// The server presented a key other than the pinned one.
    case hostKeyMismatch(expectedFingerprint: String, presentedFingerprint: String)
    /// The peers could not agree on algorithms, or the peer broke the protocol.
    case protocolFailure(String)
    /// The connection dropped before the command's exit status arrived.
    case disconnected
    /// The server refused to open a session channel or to execute the command.
    case channelRejected(String)
    /// The upload command ran but did not succeed.
    case uploadFailed(path: String, status: Int32, stderr: String)
    /// The local file to upload could not be read.
    case localFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .connectionRefused(let host, let port):
            return "connection refused by \(host):\(port)"
        case .connectionReset(let host, let port):
            return "connection reset by \(host):\(port)"
        case .closedDuringHandshake(let host, let port, let afterKeyExchange):
            return "\(host):\(port) closed the connection "
                + (afterKeyExchange ? "during authentication" : "before the key exchange completed")
        case .timedOut(let host, let port, let stage, let seconds):
            return "\(stage.rawValue) to \(host):\(port) timed out after \(seconds) s"
        case .network(let host, let port, let reason):
            return "cannot connect to \(host):\(port): \(reason)"
        case .authenticationFailed(let username, let method, let serverMethods):
            let offered = serverMethods.isEmpty ? "none" : serverMethods.joined(separator: ",")
            return "authentication as \(username) with \(method) failed (the server accepts: \(offered))"
        case .hostKeyMismatch(let expected, let presented):
            return "the server's host key \(presented) is not the pinned key \(expected)"
        case .protocolFailure(let reason):
            return "SSH protocol failure: \(reason)"
        case .disconnected:
            return "the connection dropped before the command's exit status arrived"
        case .channelRejected(let reason):
            return "the server refused the session: \(reason)"
        case .uploadFailed(let path, let status, let stderr):
            let detail = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            return "upload to \(path) failed with status \(status)" + (detail.isEmpty ? "" : ": \(detail)")
        case .localFile(let path, let reason):
            return "cannot read \(path): \(reason)"
        }
    }
}
