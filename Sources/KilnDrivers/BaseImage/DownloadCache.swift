import Foundation
import KilnCore
import KilnTemplate

/// Downloads a URL image into `downloads/<sha256 of url>/`, verifies it, decompresses `.xz`/`.gz`,
/// and reuses it on later builds. One process at a time per URL (flock on the entry's `.lock`).
struct DownloadCache: Sendable {
    var cache: CacheDirectory

    /// The path of the verified (and decompressed) image, and whether it was already cached.
    func image(for source: URLSource, build: String, events: any EventSink) async throws -> (path: String, cacheHit: Bool) {
        guard let url = URL(string: source.url), let scheme = url.scheme?.lowercased(),
              ["http", "https", "file"].contains(scheme) else {
            throw KilnError(.baseImage, "unsupported image URL \(source.url)", hint: "use http://, https:// or file://")
        }
        let entry = cache.downloadEntry(forURL: source.url)
        try makeDirectory(entry)
        let lock = try await FileLock.acquire(entry + "/" + CacheEntryFiles.lock) {
            events.emit(.info(build: build, message: "waiting for another Kiln process downloading \(source.url)"))
        }
        defer { lock.unlock() }

        if let hit = try cachedImage(in: entry, source: source) { return (hit, true) }
        removeLeftovers(in: entry)
        let started = Date()
        let expected = try await expectedChecksum(source, imageName: Self.fileName(of: url))
        let downloadName = Self.fileName(of: url)
        let temp = entry + "/" + CacheEntryFiles.temporaryPrefix + downloadName
        let throttle = ProgressThrottle()
        events.emit(.info(build: build, message: "downloading \(source.url)"))
        let fetched = try await URLFetcher.fetch(url, to: temp, algorithm: expected?.algorithm ?? .sha256) { done, total in
            if throttle.shouldReport(done: done, total: total) {
                events.emit(.progress(build: build, step: "download", done: done, total: total))
            }
        }
        events.emit(.progress(build: build, step: "download", done: fetched.bytes, total: fetched.bytes))
        if let expected, expected.hex != fetched.hex {
            try? FileManager.default.removeItem(atPath: temp)
            throw KilnError(.baseImage, """
                checksum mismatch for \(source.url): expected \(expected.algorithm.rawValue):\(expected.hex), \
                got \(expected.algorithm.rawValue):\(fetched.hex); the download was deleted
                """, hint: "check the checksum in the template, or the mirror")
        }
        if expected == nil {
            events.emit(.warning(build: build, message: "\(source.url) is not verified (checksum: none)"))
        }
        let imageName = try await place(temp, downloadName: downloadName, in: entry)
        let info = try await QemuImg.info(entry + "/" + imageName)
        let now = Date()
        let metadata = CacheMetadata(
            kind: .download, origin: source.url, imageFile: imageName, format: info.format,
            checksum: "\((expected?.algorithm ?? .sha256).rawValue):\(fetched.hex)",
            checksumSource: Self.describe(source.checksum), createdAt: now, lastUsed: now,
            buildSeconds: now.timeIntervalSince(started))
        try metadata.write(to: entry)
        return (entry + "/" + imageName, false)
    }

    /// A complete entry whose recorded checksum satisfies the source's.
    private func cachedImage(in entry: String, source: URLSource) throws -> String? {
        guard var metadata = CacheMetadata.read(from: entry), metadata.origin == source.url,
              FileManager.default.fileExists(atPath: entry + "/" + metadata.imageFile) else { return nil }
        switch source.checksum {
        case .value(let algorithm, let hex):
            guard metadata.checksum == "\(algorithm.rawValue):\(hex.lowercased())" else { return nil }
        case .file:
            guard metadata.checksumSource == Self.describe(source.checksum) else { return nil }
        case .none:
            break
        }
        metadata.lastUsed = Date()
        try? metadata.write(to: entry)
        return entry + "/" + metadata.imageFile
    }

    private func expectedChecksum(_ source: URLSource, imageName: String) async throws -> ChecksumsFile.Entry? {
        switch source.checksum {
        case .none:
            return nil
        case .value(let algorithm, let hex):
            return ChecksumsFile.Entry(algorithm: algorithm, hex: hex.lowercased())
        case .file(let sumsURL):
            guard let url = URL(string: sumsURL, relativeTo: URL(string: source.url))?.absoluteURL else {
                throw KilnError(.baseImage, "bad checksum file URL \(sumsURL)")
            }
            let text = try await URLFetcher.text(url)
            guard let entry = ChecksumsFile.entry(for: imageName, in: text) else {
                throw KilnError(.baseImage, "\(sumsURL) has no SHA-256 or SHA-512 line for \(imageName)",
                                hint: "check that the checksum file lists the image's file name")
            }
            return entry
        }
    }

    /// Renames the verified download into place, decompressing `.xz` / `.gz` first.
    /// Returns the image's file name in the entry.
    private func place(_ temp: String, downloadName: String, in entry: String) async throws -> String {
        guard let compression = Decompressor.Compression(fileName: downloadName) else {
            try rename(temp, to: entry + "/" + downloadName)
            return downloadName
        }
        let imageName = compression.decompressedName(of: downloadName)
        let tempImage = entry + "/" + CacheEntryFiles.temporaryPrefix + imageName
        defer {
            try? FileManager.default.removeItem(atPath: temp)
            try? FileManager.default.removeItem(atPath: tempImage)
        }
        try await Decompressor.decompress(temp, compression, to: tempImage)
        try rename(tempImage, to: entry + "/" + imageName)
        return imageName
    }

    private func removeLeftovers(in entry: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: entry)) ?? []
        for name in names where name != CacheEntryFiles.lock {
            try? FileManager.default.removeItem(atPath: entry + "/" + name)
        }
    }

    static func fileName(of url: URL) -> String {
        let name = url.lastPathComponent.replacingOccurrences(of: "/", with: "_")
        return name.isEmpty || name == "." || name == ".." ? "image" : name
    }

    static func describe(_ checksum: Checksum) -> String {
        switch checksum {
        case .value: return "value"
        case .file(let url): return "file:\(url)"
        case .none: return "none"
        }
    }
}

func makeDirectory(_ path: String) throws {
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        throw KilnError(.baseImage, "cannot create the cache directory \(path): \(error.localizedDescription)",
                        hint: "set KILN_CACHE_DIR to a writable directory", cause: error)
    }
}

func rename(_ from: String, to: String) throws {
    guard Foundation.rename(from, to) == 0 else {
        throw KilnError(.baseImage, "cannot move \(from) to \(to): \(String(cString: strerror(errno)))")
    }
}

/// Limits progress events to a few per second.
final class ProgressThrottle: @unchecked Sendable {
    private let lock = NSLock()
    private var last = Date.distantPast

    func shouldReport(done: UInt64, total: UInt64?) -> Bool {
        lock.withLock {
            let now = Date()
            guard now.timeIntervalSince(last) >= 0.25 || done == total else { return false }
            last = now
            return true
        }
    }
}
