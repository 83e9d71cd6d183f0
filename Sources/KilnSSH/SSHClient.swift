import NIOCore
import NIOPosix
import NIOSSH

/// One authenticated SSH connection. Commands and uploads may run concurrently on it, each on
/// its own session channel. All connections share NIO's singleton event loop group.
public final class SSHClient: Sendable {
    public let host: String
    public let port: Int
    /// The public key line the server presented (useful with `.acceptAny`).
    public let serverHostKey: String
    private let channel: any Channel

    private init(host: String, port: Int, serverHostKey: String, channel: any Channel) {
        self.host = host
        self.port = port
        self.serverHostKey = serverHostKey
        self.channel = channel
    }

    /// Connects and authenticates, or throws an `SSHClientError` saying why not.
    /// - Parameters:
    ///   - connectTimeout: for the TCP connection.
    ///   - handshakeTimeout: from TCP connected until authenticated (covers a server that accepts
    ///     the connection but never speaks, as a port forward to a booting guest does).
    public static func connect(
        host: String, port: Int, username: String, auth: SSHAuthentication, hostKey: SSHHostKeyPolicy,
        connectTimeout: Duration = .seconds(3), handshakeTimeout: Duration = .seconds(15)
    ) async throws -> SSHClient {
        var pinned: (key: NIOSSHPublicKey, line: String)?
        if case .pinned(let line) = hostKey {
            guard let key = try? NIOSSHPublicKey(openSSHPublicKey: line) else {
                throw SSHKeyError.invalidPublicKeyLine(line)
            }
            pinned = (key, line)
        }
        let pinnedKey = pinned.map { PinnedKey(key: $0.key, line: $0.line) }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let authenticated = loop.makePromise(of: String.self)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let progress = HandshakeProgress()
                    let configuration = SSHClientConfiguration(
                        userAuthDelegate: CredentialOfferer(username: username, authentication: auth),
                        serverAuthDelegate: HostKeyValidator(
                            pinned: pinnedKey.map { ($0.key, $0.line) }, progress: progress),
                        transportProtectionSchemes: KilnTransportSchemes.all)
                    let handlers: [any ChannelHandler] = [
                        NIOSSHHandler(role: .client(configuration), allocator: channel.allocator,
                                      inboundChildChannelInitializer: nil),
                        ConnectionStateHandler(host: host, port: port, handshakeTimeout: TimeAmount(handshakeTimeout),
                                               progress: progress, authenticated: authenticated),
                    ]
                    try channel.pipeline.syncOperations.addHandlers(handlers)
                }
            }

        let channel: any Channel
        do {
            if let address = try? SocketAddress(ipAddress: host, port: port) {
                channel = try await bootstrap.connect(to: address).get()
            } else {
                channel = try await bootstrap.connect(host: host, port: port).get()
            }
        } catch {
            authenticated.fail(error)
            throw SSHClientError(error, host: host, port: port)
        }
        do {
            let presentedKey = try await withTaskCancellationHandler {
                try await authenticated.futureResult.get()
            } onCancel: {
                channel.close(promise: nil)
            }
            return SSHClient(host: host, port: port, serverHostKey: presentedKey, channel: channel)
        } catch {
            channel.close(promise: nil)
            try Task.checkCancellation()
            throw SSHClientError(error, host: host, port: port)
        }
    }

    /// Runs `command` through the login shell and returns its exit status (128 + N when it was
    /// killed by signal N).
    ///
    /// `onOutput` receives output chunks as they arrive, in order per stream, on an event loop
    /// thread (it must not block); chunks are not split into lines. The command sees `stdin` then
    /// end-of-file. Throws `SSHClientError.disconnected` when the connection drops before the
    /// exit status arrives (expected for a reboot).
    public func run(
        command: String, stdin: SSHStandardInput = .none,
        onOutput: @escaping @Sendable (SSHOutputStream, [UInt8]) -> Void = { _, _ in }
    ) async throws -> Int32 {
        let input = try await stdin.openChunks()
        defer { input.close() }
        let started = channel.eventLoop.makePromise(of: Void.self)
        let finished = channel.eventLoop.makePromise(of: Int32.self)
        let session: any Channel
        do {
            session = try await openSession(command: command, started: started, finished: finished, onOutput: onOutput)
        } catch {
            started.fail(error)
            finished.fail(error)
            throw Self.sessionError(error)
        }
        return try await withTaskCancellationHandler {
            do {
                try await started.futureResult.get()
                try await stream(input, to: session)
                return try await finished.futureResult.get()
            } catch {
                session.close(promise: nil)
                try Task.checkCancellation()
                throw Self.sessionError(error)
            }
        } onCancel: {
            // Do not wait for the server's half of the close: dropbear sends it only once the
            // command has exited, which may be never. A later completion of these is ignored.
            session.close(promise: nil)
            started.fail(CancellationError())
            finished.fail(CancellationError())
        }
    }

    /// Writes `data` to `path` on the server with `mode` (e.g. 0o644), creating parent directories.
    public func upload(data: [UInt8], to path: String, mode: Int) async throws {
        try await upload(.bytes(data), to: path, mode: mode)
    }

    /// Streams the local file at `localPath` to `path` on the server with `mode`.
    public func upload(file localPath: String, to path: String, mode: Int) async throws {
        try await upload(.file(path: localPath), to: path, mode: mode)
    }

    /// Closes the connection; commands still running end with `disconnected`.
    public func close() async {
        try? await channel.close()
    }

    private func upload(_ input: SSHStandardInput, to path: String, mode: Int) async throws {
        let stderr = ErrorOutput()
        let status = try await run(command: UploadCommand.make(path: path, mode: mode), stdin: input) { stream, bytes in
            if stream == .stderr { stderr.append(bytes) }
        }
        guard status == 0 else {
            throw SSHClientError.uploadFailed(path: path, status: status, stderr: stderr.text)
        }
    }

    private func openSession(
        command: String, started: EventLoopPromise<Void>, finished: EventLoopPromise<Int32>,
        onOutput: @escaping @Sendable (SSHOutputStream, [UInt8]) -> Void
    ) async throws -> any Channel {
        let channel = self.channel
        return try await channel.eventLoop.flatSubmit {
            let opened = channel.eventLoop.makePromise(of: (any Channel).self)
            do {
                let ssh = try channel.pipeline.syncOperations.handler(type: NIOSSHHandler.self)
                ssh.createChannel(opened, channelType: .session) { session, _ in
                    // Half-closure keeps the channel open after the server's EOF, until the exit status.
                    session.setOption(ChannelOptions.allowRemoteHalfClosure, value: true).flatMapThrowing {
                        try session.pipeline.syncOperations.addHandler(ExecHandler(
                            command: command, started: started, finished: finished, onOutput: onOutput))
                    }
                }
            } catch {
                opened.fail(error)
            }
            return opened.futureResult
        }.get()
    }

    /// Writes the input with at most one chunk in flight (the write completes once the SSH window
    /// lets it out), then sends EOF. A write that fails because the command already ended is
    /// not an error: the exit status tells what happened.
    private func stream(_ input: any InputChunks, to session: any Channel) async throws {
        do {
            var inFlight: EventLoopFuture<Void>?
            while let chunk = try await input.next() {
                let written = session.eventLoop.makePromise(of: Void.self)
                session.writeAndFlush(SSHChannelData(type: .channel, data: .byteBuffer(chunk)), promise: written)
                try await inFlight?.get()
                inFlight = written.futureResult
            }
            try await inFlight?.get()
            try await session.close(mode: .output)
        } catch let error as SSHClientError {
            throw error
        } catch {
            return
        }
    }

    private static func sessionError(_ error: any Error) -> any Error {
        switch error {
        case is SSHClientError, is CancellationError: return error
        case let error as NIOSSHError where error.type == .channelSetupRejected:
            return SSHClientError.channelRejected("\(error)")
        default: return SSHClientError.disconnected
        }
    }
}

/// A pinned host key, carried into the channel initializer.
private struct PinnedKey: Sendable {
    var key: NIOSSHPublicKey
    var line: String
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
