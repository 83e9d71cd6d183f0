import Foundation
import KilnCore

/// Writes a POSIX ustar archive member by member, streaming file contents in chunks.
/// Blocking file I/O: call it off the cooperative pool (see `BlockingWork`).
final class TarWriter {
    private let output: FileHandle
    private let path: String
    private let mtime: UInt64
    private var closed = false
    private static let chunkSize = 4 << 20

    /// Creates (or truncates) the archive at `path`. Every member gets `mtime` (seconds since 1970).
    init(path: String, mtime: UInt64 = UInt64(Date().timeIntervalSince1970)) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw KilnError(.export, "cannot create \(path)")
        }
        self.output = handle
        self.path = path
        self.mtime = mtime
    }

    deinit { if !closed { try? output.close() } }

    func add(name: String, data: Data) throws {
        try output.write(contentsOf: TarHeader.make(name: name, size: UInt64(data.count), mtime: mtime))
        try output.write(contentsOf: data)
        try pad(UInt64(data.count))
    }

    /// Copies the file at `source` into the archive; `copied` is called with the bytes copied so far.
    /// `isCancelled` is polled between chunks.
    func add(name: String, file source: String, isCancelled: () -> Bool = { false },
             copied: (UInt64) -> Void = { _ in }) throws {
        let size = try FileDigest.size(path: source)
        guard let input = FileHandle(forReadingAtPath: source) else { throw KilnError(.export, "cannot read \(source)") }
        defer { try? input.close() }
        try output.write(contentsOf: TarHeader.make(name: name, size: size, mtime: mtime))
        var done: UInt64 = 0
        while done < size {
            if isCancelled() { throw CancellationError() }
            let wanted = Int(min(UInt64(Self.chunkSize), size - done))
            guard let chunk = try input.read(upToCount: wanted), !chunk.isEmpty else {
                throw KilnError(.export, "\(source) shrank while it was being archived")
            }
            try output.write(contentsOf: chunk)
            done += UInt64(chunk.count)
            copied(done)
        }
        try pad(size)
    }

    /// Writes the end-of-archive marker (two zero blocks), flushes and closes.
    func finish() throws {
        try output.write(contentsOf: Data(count: 2 * TarHeader.blockSize))
        try output.synchronize()
        closed = true
        try output.close()
    }

    private func pad(_ size: UInt64) throws {
        let count = TarHeader.padding(for: size)
        if count > 0 { try output.write(contentsOf: Data(count: count)) }
    }
}
