import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KilnCore
import KilnTemplate

/// What a finished fetch wrote.
struct FetchResult: Sendable, Equatable {
    var bytes: UInt64
    var hex: String
}

/// Streams a URL to a file while hashing it. http(s) through URLSession, file:// as a plain copy.
/// On any failure (also cancellation) the destination is removed.
enum URLFetcher {
    typealias Progress = @Sendable (_ done: UInt64, _ total: UInt64?) -> Void

    static func fetch(_ url: URL, to destination: String, algorithm: ChecksumAlgorithm,
                      progress: @escaping Progress) async throws -> FetchResult {
        do {
            if url.isFileURL {
                return try await FileCopy.copy(url.path, to: destination, algorithm: algorithm, progress: progress)
            }
            return try await HTTPDownload(url: url, destination: destination, algorithm: algorithm, progress: progress).run()
        } catch {
            try? FileManager.default.removeItem(atPath: destination)
            throw error
        }
    }

    /// A small text resource (a SHA256SUMS file).
    static func text(_ url: URL) async throws -> String {
        let temp = NSTemporaryDirectory() + "kiln-sums-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: temp) }
        _ = try await fetch(url, to: temp, algorithm: .sha256, progress: { _, _ in })
        guard let data = FileManager.default.contents(atPath: temp) else {
            throw KilnError(.baseImage, "cannot read the downloaded \(url.absoluteString)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// file:// sources: copied in chunks so they hash and report progress like downloads.
enum FileCopy {
    static func copy(_ source: String, to destination: String, algorithm: ChecksumAlgorithm,
                     progress: @escaping URLFetcher.Progress) async throws -> FetchResult {
        guard let input = FileHandle(forReadingAtPath: source) else {
            throw KilnError(.baseImage, "cannot read \(source): no such file or not readable")
        }
        defer { try? input.close() }
        let total = (try? FileManager.default.attributesOfItem(atPath: source)[.size] as? NSNumber)?.uint64Value
        guard FileManager.default.createFile(atPath: destination, contents: nil),
              let output = FileHandle(forWritingAtPath: destination) else {
            throw KilnError(.baseImage, "cannot write \(destination)")
        }
        defer { try? output.close() }
        var digest = StreamingDigest(algorithm)
        var done: UInt64 = 0
        while true {
            try Task.checkCancellation()
            guard let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty else { break }
            try output.write(contentsOf: chunk)
            digest.update(chunk)
            done += UInt64(chunk.count)
            progress(done, total)
        }
        return FetchResult(bytes: done, hex: digest.finalizeHex())
    }
}
