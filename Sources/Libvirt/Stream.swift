import CLibvirt
import Glibc

/// A `virStreamPtr` in blocking mode: the data channel of a volume upload or download.
///
/// A transfer blocks for as long as the data flows, so each stream has a thread of its own
/// (never one of the cooperative pool, nor the connection's call queue, which stays free for
/// other calls). libvirt connections are thread-safe, and every call on the stream runs on
/// that one thread, so errors are read in the same call (and `ended` is only touched there).
/// Freed in `deinit`; a stream neither finished nor aborted is aborted first.
public final class Stream: @unchecked Sendable {
    let handle: OpaquePointer
    public let connection: Connection
    private let calls: CallQueue
    /// Set on the stream's thread once the transfer ended (finished, aborted, or failed in an
    /// `*All` call, which aborts it).
    private var ended = false

    private init(handle: OpaquePointer, connection: Connection, calls: CallQueue) {
        self.handle = handle
        self.connection = connection
        self.calls = calls
    }

    /// libvirt asks for an abort before freeing a stream whose transfer is still going.
    deinit {
        let stream = UncheckedHandle(handle), ended = self.ended
        calls.enqueue {
            if !ended { _ = virStreamAbort(stream.pointer) }
            virStreamFree(stream.pointer)
        }
    }

    /// `virStreamNew` (blocking).
    public static func open(on connection: Connection) async throws(LibvirtError) -> Stream {
        let calls = CallQueue(label: "libvirt stream \(connection.uri)")
        let opened = try await calls.run { () throws(LibvirtError) -> UncheckedHandle in
            guard let stream = virStreamNew(connection.handle, 0) else {
                throw LibvirtError.last("cannot open a stream to \(connection.uri)")
            }
            return UncheckedHandle(stream)
        }
        return Stream(handle: opened.pointer, connection: connection, calls: calls)
    }

    /// `virStreamSend`: sends some of `bytes` (libvirt sends at most one packet, 256 KiB, per
    /// call); returns how many were sent.
    public func send(_ bytes: [UInt8]) async throws(LibvirtError) -> Int {
        try await calls.run { [self] () throws(LibvirtError) -> Int in
            let sent = bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { virStreamSend(handle, $0.baseAddress, $0.count) }
            }
            guard sent >= 0 else { throw LibvirtError.last("cannot send on the stream") }
            return Int(sent)
        }
    }

    /// `virStreamRecv`: up to `maxBytes`; an empty array at the end of the stream.
    public func receive(maxBytes: Int = 256 * 1024) async throws(LibvirtError) -> [UInt8] {
        try await calls.run { [self] () throws(LibvirtError) -> [UInt8] in
            var buffer = [UInt8](repeating: 0, count: maxBytes)
            let got = buffer.withUnsafeMutableBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { virStreamRecv(handle, $0.baseAddress, $0.count) }
            }
            guard got >= 0 else { throw LibvirtError.last("cannot receive from the stream") }
            return Array(buffer.prefix(Int(got)))
        }
    }

    /// `virStreamSparseSendAll`: sends everything `source` holds, holes as lengths. The source is
    /// called on the stream's thread. Cancelling the task makes the next callback fail, which
    /// aborts the stream; the source's own error (or `CancellationError`) is what is thrown.
    public func sparseSendAll(from source: any StreamSource) async throws {
        let box = TransferBox<any StreamSource>(source)
        try await withTaskCancellationHandler {
            try await calls.perform { [self] in
                let opaque = Unmanaged.passUnretained(box).toOpaque()
                let result = withExtendedLifetime(box) {
                    virStreamSparseSendAll(handle, sourceRead, sourceSection, sourceSkip, opaque)
                }
                guard result == 0 else {
                    ended = true
                    throw box.failure ?? LibvirtError.last("cannot send on the stream")
                }
            }
        } onCancel: {
            box.cancel()
        }
    }

    /// `virStreamSparseRecvAll`: hands everything that arrives to `sink`, holes as lengths (a
    /// stream that is not sparse only ever gives data). Cancellation as for `sparseSendAll`.
    public func sparseReceiveAll(into sink: any StreamSink) async throws {
        let box = TransferBox<any StreamSink>(sink)
        try await withTaskCancellationHandler {
            try await calls.perform { [self] in
                let opaque = Unmanaged.passUnretained(box).toOpaque()
                let result = withExtendedLifetime(box) {
                    virStreamSparseRecvAll(handle, sinkWrite, sinkHole, opaque)
                }
                guard result == 0 else {
                    ended = true
                    throw box.failure ?? LibvirtError.last("cannot receive from the stream")
                }
            }
        } onCancel: {
            box.cancel()
        }
    }

    /// `virStreamFinish`: the transfer is complete; for an upload, waits for the daemon to
    /// confirm that it wrote everything.
    public func finish() async throws(LibvirtError) {
        try await calls.run { [self] () throws(LibvirtError) in
            ended = true
            guard virStreamFinish(handle) == 0 else { throw LibvirtError.last("the stream did not finish cleanly") }
        }
    }

    /// `virStreamAbort`: ends the transfer early. (The `*All` calls abort by themselves when they fail.)
    public func abort() async throws(LibvirtError) {
        try await calls.run { [self] () throws(LibvirtError) in
            ended = true
            guard virStreamAbort(handle) == 0 else { throw LibvirtError.last("cannot abort the stream") }
        }
    }
}

/// What `Stream.sparseSendAll` reads from; called on the stream's thread, one call at a time.
public protocol StreamSource: AnyObject, Sendable {
    /// Fills up to `buffer.count` bytes from the current position and moves past them; 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Whether the current position is in data or in a hole, and how many bytes of that section
    /// remain (the end of the source is a hole of length 0). Does not move.
    func section() throws -> (inData: Bool, length: Int64)
    /// Moves past a hole of `length` bytes.
    func skip(_ length: Int64) throws
}

/// What `Stream.sparseReceiveAll` writes to; called on the stream's thread, one call at a time.
public protocol StreamSink: AnyObject, Sendable {
    /// Consumes the bytes; returns how many (all of them, normally).
    func write(_ bytes: UnsafeRawBufferPointer) throws -> Int
    /// A hole of `length` bytes follows.
    func hole(_ length: Int64) throws
}

/// The source or sink of one transfer and what went wrong in it, behind libvirt's `opaque` pointer.
private final class TransferBox<Endpoint>: @unchecked Sendable {
    let endpoint: Endpoint
    private let lock = PthreadMutex()
    private(set) var failure: (any Error)?
    private var cancelled = false

    init(_ endpoint: Endpoint) { self.endpoint = endpoint }

    func cancel() { lock.withLock { cancelled = true } }

    /// Runs a callback body; any error (or a cancellation) is kept and becomes libvirt's -1.
    func call(_ body: () throws -> Int32) -> Int32 {
        do {
            if lock.withLock({ cancelled }) { throw CancellationError() }
            return try body()
        } catch {
            if failure == nil { failure = error }
            errno = EIO
            return -1
        }
    }
}

/// A mutex without Foundation (this target links only libvirt and Glibc).
private final class PthreadMutex: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(mutex, nil) }
    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

private func box<Endpoint>(_ opaque: UnsafeMutableRawPointer?, as: Endpoint.Type) -> TransferBox<Endpoint> {
    Unmanaged<TransferBox<Endpoint>>.fromOpaque(opaque!).takeUnretainedValue()
}

private let sourceRead: virStreamSourceFunc = { _, data, count, opaque in
    let transfer = box(opaque, as: (any StreamSource).self)
    return transfer.call {
        Int32(try transfer.endpoint.read(into: UnsafeMutableRawBufferPointer(start: data, count: count)))
    }
}

private let sourceSection: virStreamSourceHoleFunc = { _, inData, length, opaque in
    let transfer = box(opaque, as: (any StreamSource).self)
    return transfer.call {
        let section = try transfer.endpoint.section()
        inData?.pointee = section.inData ? 1 : 0
        length?.pointee = section.length
        return 0
    }
}

private let sourceSkip: virStreamSourceSkipFunc = { _, length, opaque in
    let transfer = box(opaque, as: (any StreamSource).self)
    return transfer.call {
        try transfer.endpoint.skip(length)
        return 0
    }
}

private let sinkWrite: virStreamSinkFunc = { _, data, count, opaque in
    let transfer = box(opaque, as: (any StreamSink).self)
    return transfer.call {
        Int32(try transfer.endpoint.write(UnsafeRawBufferPointer(start: data, count: count)))
    }
}

private let sinkHole: virStreamSinkHoleFunc = { _, length, opaque in
    let transfer = box(opaque, as: (any StreamSink).self)
    return transfer.call {
        try transfer.endpoint.hole(length)
        return 0
    }
}
