import NIOCore
import NIOSSH

/// The last handler of a connection's pipeline: turns the handshake's outcome (authenticated,
/// an error, a close, the deadline) into one promise, completed once with the presented host key.
final class ConnectionStateHandler: ChannelInboundHandler {
    typealias InboundIn = Any

    private let endpoint: (host: String, port: Int)
    private let handshakeTimeout: TimeAmount
    private let progress: HandshakeProgress
    private var authenticated: EventLoopPromise<String>?
    private var deadline: Scheduled<Void>?
    private var firstError: SSHClientError?

    init(host: String, port: Int, handshakeTimeout: TimeAmount, progress: HandshakeProgress,
         authenticated: EventLoopPromise<String>) {
        self.endpoint = (host, port)
        self.handshakeTimeout = handshakeTimeout
        self.progress = progress
        self.authenticated = authenticated
    }

    func channelActive(context: ChannelHandlerContext) {
        let timeout = handshakeTimeout
        let channel = context.channel
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.settle(.failure(SSHClientError.timedOut(
                host: self.endpoint.host, port: self.endpoint.port, stage: .handshake,
                seconds: Double(timeout.nanoseconds) / 1e9)))
            channel.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is UserAuthSuccessEvent {
            settle(.success(progress.presentedHostKey ?? ""))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let mapped = SSHClientError(error, host: endpoint.host, port: endpoint.port)
        if firstError == nil { firstError = mapped }
        settle(.failure(mapped))
        // NIOSSH cannot recover from a pipeline error: drop the connection (running commands
        // then see `disconnected`).
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle(.failure(firstError ?? SSHClientError.closedDuringHandshake(
            host: endpoint.host, port: endpoint.port, afterKeyExchange: progress.hostKeyAccepted)))
        context.fireChannelInactive()
    }

    private func settle(_ result: Result<String, any Error>) {
        deadline?.cancel()
        deadline = nil
        guard let promise = authenticated else { return }
        authenticated = nil
        promise.completeWith(result)
    }
}
