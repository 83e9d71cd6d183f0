import Foundation
import KilnCore

/// Decompresses a downloaded `.xz` or `.gz` image with the system's xz / gzip.
enum Decompressor {
    enum Compression: String, Sendable {
        case xz, gz

        init?(fileName: String) {
            if fileName.hasSuffix(".xz") { self = .xz } else if fileName.hasSuffix(".gz") { self = .gz } else { return nil }
        }

        func decompressedName(of name: String) -> String {
            let stripped = String(name.dropLast(rawValue.count + 1))
            return stripped.isEmpty ? "image" : stripped
        }

        var tool: String { self == .xz ? "xz" : "gzip" }
    }

    static func decompress(_ source: String, _ compression: Compression, to destination: String) async throws {
        // Through sh so that the image streams to the file instead of through our memory.
        do {
            try await Subprocess.run("sh", ["-c", "exec \"$0\" -dc -- \"$1\" > \"$2\"", compression.tool, source, destination])
        } catch let failure as Subprocess.Failure {
            throw KilnError(.baseImage, "cannot decompress \(source) with \(compression.tool): \(failure.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
