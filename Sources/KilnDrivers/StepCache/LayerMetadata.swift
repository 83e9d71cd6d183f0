import Foundation

/// `<key>.json` beside each layer's `<key>.qcow2` in the cache's `layers/` directory.
struct LayerMetadata: Codable, Equatable {
    var key: String
    /// The parent layer's key; nil when the layer sits directly on the base image.
    var parent: String?
    /// The qcow2 backing file recorded in the layer (a parent layer or the base image).
    var backing: String
    var description: String
    var created: Date

    static func read(_ path: String) -> LayerMetadata? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(LayerMetadata.self, from: data)
    }

    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let temporary = path + ".tmp-\(getpid())"
        try encoder.encode(self).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot write \(path): \(message)"])
        }
    }
}
