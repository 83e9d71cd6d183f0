import Crypto
import Foundation
import KilnCore

/// SHA-256 of a file read in chunks (blocking; polls `isCancelled` between chunks).
enum FileHashing {
    static func sha256(path: String, isCancelled: () -> Bool = { false }) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw KilnError(.export, "cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty {
            if isCancelled() { throw CancellationError() }
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
