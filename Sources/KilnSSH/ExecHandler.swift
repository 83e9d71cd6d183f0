import NIOCore
import NIOSSH

/// Which output stream a chunk of command output came from.
public enum SSHOutputStream: String, Sendable {
    case stdout, stderr
}

/// Handles one session channel: sends the exec request, forwards output, and completes
/// `finished` when the channel closes, with the exit status or `disconnected`.
final class ExecHandler: ChannelInboundHandler {
    typealias InboundIn = SSHChannelData

    private let command: String
    private let onOutput: @Sendable (SSHOutputStream, [UInt8]) -> Void
    private var started: EventLoopPromise<Void>?
    private let finished: EventLoopPromise<Int32>
    private var exitStatus: Int32?
    private var failure: SSHClientError?

    init(command: String, started: EventLoopPromise<Void>, finished: EventLoopPromise<Int32>,
         onOutput: @escaping @Sendable (SSHOutputStream, [UInt8]) -> Void) {
        self.command = command
        self.started = started
        self.finished = finished
        self.onOutput = onOutput
    }

    func channelActive(context: ChannelHandlerContext) {
        let request = SSHChannelRequestEvent.ExecRequest(command: command, wantReply: true)
        context.triggerUserOutboundEvent(request, promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        guard case .byteBuffer(let buffer) = message.data else { return }
        let stream: SSHOutputStream = message.type == .stdErr ? .stderr : .stdout
        onOutput(stream, Array(buffer.readableBytesView))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelSuccessEvent:
            started?.succeed(())
            started = nil
        case is ChannelFailureEvent:
            failure = failure ?? .channelRejected("the server refused to execute the command")
            context.close(promise: nil)
        case let status as SSHChannelRequestEvent.ExitStatus:
            exitStatus = Int32(truncatingIfNeeded: status.exitStatus)
        case let signal as SSHChannelRequestEvent.ExitSignal:
            // Reported as a shell reports it: 128 + the signal number.
            exitStatus = 128 + Self.signalNumber(signal.signalName)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if failure == nil, let error = error as? NIOSSHError, error.type == .channelSetupRejected {
            failure = .channelRejected("\(error)")
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let error = failure ?? .disconnected
        started?.fail(error)
        started = nil
        if let exitStatus {
            finished.succeed(exitStatus)
        } else {
            finished.fail(error)
        }
        context.fireChannelInactive()
    }

    /// Linux numbering of the signals SSH names (RFC 4254 §6.10).
    static func signalNumber(_ name: String) -> Int32 {
        let numbers: [String: Int32] = [
            "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
            "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
        ]
        return numbers[name] ?? 127
    }
}
