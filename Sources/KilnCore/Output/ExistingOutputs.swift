import Foundation

/// An earlier build's output directory, read from its manifest: current when the finished disk's
/// step-cache key, the outputs asked for and every file (by size) are what they were.
struct ExistingOutputs: Sendable {
    var directory: String
    var finalKey: String
    var files: [Manifest.File]

    static func read(_ directory: String, build: String) -> ExistingOutputs? {
        guard let data = FileManager.default.contents(atPath: directory + "/manifest.json"),
              let manifest = try? JSONDecoder().decode(Manifest.self, from: data),
              let entry = manifest.builds.first(where: { $0.name == build }),
              let key = entry.kiln.stepCache?.finalKey else { return nil }
        return ExistingOutputs(directory: directory, finalKey: key, files: entry.files)
    }

    /// The files are all there with their recorded sizes and are exactly the ones `names` expects.
    func isCurrent(finalKey: String?, names: Set<String>) -> Bool {
        guard finalKey == self.finalKey, Set(files.map(\.name)) == names else { return false }
        return files.allSatisfy { file in
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + file.name)
            return (attributes?[.size] as? NSNumber)?.uint64Value == file.size
        }
    }

    var artifacts: [Artifact] { files.map { Artifact(name: $0.name, format: $0.format, size: $0.size, sha256: $0.sha256) } }
}
