import Foundation

/// The small JSON file beside a cached image: what it is, how it was verified, when it was used.
struct CacheMetadata: Codable, Sendable, Equatable {
    enum Kind: String, Codable, Sendable { case download, bootstrap }

    var kind: Kind
    /// The URL, or the bootstrap recipe summary ("debian/bookworm +nginx, grub").
    var origin: String
    /// The image file's name inside the entry directory.
    var imageFile: String
    var format: String
    /// `sha256:HEX` of the file as published (before decompression); nil for bootstraps.
    var checksum: String?
    /// Where the expected checksum came from: "value", "file:URL" or "none".
    var checksumSource: String?
    /// Kernel-boot files beside the image (bootstraps).
    var kernel: String?
    var initrd: String?
    var cmdline: String?
    var createdAt: Date
    var lastUsed: Date
    /// How long it took to make (download or bootstrap), in seconds.
    var buildSeconds: Double?

    static func read(from directory: String) -> CacheMetadata? {
        guard let data = FileManager.default.contents(atPath: directory + "/" + CacheEntryFiles.metadata) else { return nil }
        return try? decoder.decode(CacheMetadata.self, from: data)
    }

    /// Written to a temporary name and renamed, so a reader never sees half a file.
    func write(to directory: String) throws {
        let data = try Self.encoder.encode(self)
        let target = URL(fileURLWithPath: directory + "/" + CacheEntryFiles.metadata)
        try data.write(to: target, options: .atomic)
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
