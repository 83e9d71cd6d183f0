import NIOCore
import NIOPosix
import NIOSSH

#if canImport(Glibc)
import Glibc
#endif

extension SSHClientError {
    /// Maps what NIO and NIOSSH throw to the cases callers can tell apart.
    init(_ error: any Error, host: String, port: Int) {
        switch error {
        case let error as SSHClientError:
            self = error
        case let error as NIOConnectionError:
            // Happy eyeballs tried one or more addresses; the first failure says why.
            if let first = error.connectionErrors.first {
                self.init(first.error, host: host, port: port)
            } else if let dnsError = error.dnsAAAAError ?? error.dnsAError {
                self = .network(host: host, port: port, reason: "cannot resolve the name: \(dnsError)")
            } else {
                self = .network(host: host, port: port, reason: "\(error)")
            }
        case let error as IOError:
            switch error.errnoCode {
            case ECONNREFUSED: self = .connectionRefused(host: host, port: port)
            case ECONNRESET, EPIPE: self = .connectionReset(host: host, port: port)
            default: self = .network(host: host, port: port, reason: "\(error)")
            }
        case ChannelError.connectTimeout(let amount):
            self = .timedOut(host: host, port: port, stage: .tcpConnect, seconds: Double(amount.nanoseconds) / 1e9)
        case let error as NIOSSHError:
            self = .protocolFailure("\(error)")
        default:
            self = .network(host: host, port: port, reason: "\(error)")
        }
    }
}
