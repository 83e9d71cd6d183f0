import Foundation
import KilnTemplate

extension StepContext {
    /// Writes SHA256SUMS and manifest.json, then moves the complete outputs into place. An earlier
    /// output directory is replaced only now, when everything new is complete (and only with --force).
    func writeManifest(_ state: inout BuildState) throws {
        let staging = try createStaging(&state)
        let sums = state.artifacts.map { "\($0.sha256)  \($0.name)\n" }.joined()
        try Data(sums.utf8).write(to: URL(fileURLWithPath: staging + "/SHA256SUMS"))

        let runID = UUID().uuidString.lowercased()
        let guest = state.offline.compactMap(\.os).last
        let details = Manifest.KilnDetails(
            version: options.kilnVersion, template: template.path, templateHash: template.contentHash,
            base: state.base?.origin, accelerator: state.accelerator?.rawValue, acceleratorReason: state.acceleratorReason,
            timings: state.timings,
            offline: state.offline.map {
                Manifest.Offline(applianceLaunchSeconds: $0.applianceLaunchSeconds, phases: $0.phases, removed: $0.removed,
                                 diskBytesBeforeTrim: $0.sizeBefore, diskBytesAfterTrim: $0.sizeAfter)
            },
            guest: guest, ami: state.published, stepCache: state.stepCache)
        let entry = Manifest.Build(
            name: name, builderType: "kiln.qemu", buildTime: Int(Date().timeIntervalSince1970),
            files: state.artifacts.map { .init(name: $0.name, size: $0.size, format: $0.format, sha256: $0.sha256) },
            artifactID: state.published.map { "\($0.region):\($0.imageID)" } ?? state.artifacts.first.map { build.outputDirectory + "/" + $0.name } ?? "",
            packerRunUUID: runID, customData: [:], kiln: details)
        let manifest = Manifest(builds: [entry], lastRunUUID: runID)
        // Masked as a whole: a base URL, a step title or an AMI detail can quote a sensitive value.
        let json = Redactor(template.secrets)(String(decoding: try manifest.encoded(), as: UTF8.self))
        try Data(json.utf8).write(to: URL(fileURLWithPath: staging + "/manifest.json"))
        try OutputDirectory.publish(staging: staging, to: build.outputDirectory, replace: options.force, id: state.id)
        state.stagingDirectory = ""
        info("outputs in \(build.outputDirectory)")
    }
}
