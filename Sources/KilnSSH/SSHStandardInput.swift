import Foundation
import NIOCore
import NIOPosix

/// What a command reads on its standard input; it sees end-of-file after it.
public enum SSHStandardInput: Sendable {
    case none
    case bytes([UInt8])
    /// A local file, streamed in chunks as the channel accepts them (never loaded whole).
    case file(path: String)
}

/// Produces a command's input in chunks; nil at the end.
protocol InputChunks: Sendable {
    func next() async throws -> ByteBuffer?
    func close()
}

extension SSHStandardInput {
    static let chunkSize = 256 * 1024

    /// Opens the input (a file is opened now, so a missing file fails before anything runs).
    func openChunks() async throws -> any InputChunks {
        switch self {
        case .none: return BytesChunks([])
        case .bytes(let bytes): return BytesChunks(bytes)
        case .file(let path): return try await FileChunks(path: path)
        }
    }
}

final class BytesChunks: InputChunks, @unchecked Sendable {
    // Only touched by the one task that runs the command.
    private var remaining: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) {
        remaining = bytes[...]
    }

    func next() async throws -> ByteBuffer? {
        guard !remaining.isEmpty else { return nil }
        let chunk = remaining.prefix(SSHStandardInput.chunkSize)
        remaining = remaining.dropFirst(chunk.count)
        return ByteBuffer(bytes: chunk)
    }

    func close() {}
}

/// Reads a file with blocking `read(2)` calls on NIO's thread pool, off the cooperative pool.
final class FileChunks: InputChunks, Sendable {
    private let path: String
    private let fd: Int32

    init(path: String) async throws {
        self.path = path
        let opened = try await NIOThreadPool.singleton.runIfActive { open(path, O_RDONLY | O_CLOEXEC) }
        guard opened >= 0 else {
            throw SSHClientError.localFile(path: path, reason: String(cString: strerror(errno)))
        }
        fd = opened
    }

    func next() async throws -> ByteBuffer? {
        let (fd, path) = (self.fd, self.path)
        return try await NIOThreadPool.singleton.runIfActive {
            var buffer = ByteBuffer()
            let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: SSHStandardInput.chunkSize) { raw in
                while true {
                    let result = read(fd, raw.baseAddress, SSHStandardInput.chunkSize)
                    if result >= 0 { return result }
                    if errno != EINTR {
                        throw SSHClientError.localFile(path: path, reason: String(cString: strerror(errno)))
                    }
                }
            }
            return count == 0 ? nil : buffer
        }
    }

    func close() {
        _ = Foundation.close(fd)
    }
}
