import Crypto
import Foundation
import KilnTemplate

extension StepContext {
    /// Converts the work disk to every requested format at once (bounded by cores), each into a
    /// hidden staging directory beside the output directory under a temporary name.
    func export(_ outputs: [OutputSpec], _ state: inout BuildState) async throws {
        let staging = try createStaging(&state)
        let source = state.workDisk
        let build = name, events = self.events, disks = drivers.disks, packager = drivers.packager
        let machine = self.build.machine, workDirectory = state.workDirectory
        let limit = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let artifacts = try await withThrowingTaskGroup(of: Artifact.self) { group in
            var inFlight = 0
            var done: [Artifact] = []
            for output in outputs {
                if inFlight >= limit, let artifact = try await group.next() {
                    done.append(artifact)
                    inFlight -= 1
                }
                group.addTask {
                    let fileName = ExportNaming.fileName(build: build, output: output)
                    let final = staging + "/" + fileName
                    let partial = final + ".partial"
                    let step = "export \(fileName)"
                    let started = ContinuousClock.now
                    let progress: @Sendable (Double) -> Void = { fraction in
                        events.emit(.progress(build: build, step: step, done: UInt64(fraction * 1000), total: 1000))
                    }
                    do {
                        if ExportNaming.packaged.contains(output.format), let packager {
                            let scratch = workDirectory + "/package-" + fileName
                            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
                            defer { try? FileManager.default.removeItem(atPath: scratch) }
                            try await packager.package(PackageRequest(disk: source, output: output, name: build, machine: machine,
                                                                      destination: partial, scratch: scratch), progress: progress)
                        } else {
                            try await disks.convert(source: source, to: partial, output: output, progress: progress)
                        }
                    } catch {
                        try? FileManager.default.removeItem(atPath: partial)
                        throw KilnError.wrap(error, as: .export, "converting to \(output.format.rawValue) failed")
                    }
                    try FileManager.default.moveItem(atPath: partial, toPath: final)
                    let digest = try FileDigest.sha256(path: final)
                    let size = try FileDigest.size(path: final)
                    events.emit(.info(build: build, message: "\(fileName): \(ByteFormat.string(size)) in "
                                      + String(format: "%.1f s", (ContinuousClock.now - started).seconds)))
                    return Artifact(name: fileName, format: output.format.rawValue, size: size, sha256: digest)
                }
                inFlight += 1
            }
            for try await artifact in group { done.append(artifact) }
            return done
        }
        let order = outputs.map { ExportNaming.fileName(build: build, output: $0) }
        state.artifacts = artifacts.sorted { (order.firstIndex(of: $0.name) ?? 0) < (order.firstIndex(of: $1.name) ?? 0) }
    }

    /// `.NAME.kiln-ID` beside the output directory, so the final rename stays on one filesystem.
    func createStaging(_ state: inout BuildState) throws -> String {
        if !state.stagingDirectory.isEmpty { return state.stagingDirectory }
        let output = build.outputDirectory
        let parent = (output as NSString).deletingLastPathComponent
        let leaf = (output as NSString).lastPathComponent
        try FileManager.default.createDirectory(atPath: parent.isEmpty ? "." : parent, withIntermediateDirectories: true)
        let staging = (parent.isEmpty ? "." : parent) + "/.\(leaf).kiln-\(state.id)"
        try Data(staging.utf8).write(to: URL(fileURLWithPath: state.workDirectory + "/" + WorkDirectory.stagingRecord))
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        cleanup.push("remove partial outputs \(staging)") {
            if FileManager.default.fileExists(atPath: staging) { try FileManager.default.removeItem(atPath: staging) }
        }
        state.stagingDirectory = staging
        return staging
    }
}

public enum FileDigest {
    public static func sha256(path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw KilnError(.export, "cannot read \(path)")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    public static func size(path: String) throws -> UInt64 {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.size] as? NSNumber)?.uint64Value ?? 0
    }
}
