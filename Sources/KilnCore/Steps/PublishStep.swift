import Foundation
import KilnTemplate

extension StepContext {
    /// Registers the finished disk as an AMI. The publisher undoes its own partial work on failure.
    func publish(_ ami: AMISpec, _ state: inout BuildState) async throws {
        guard let publisher = drivers.publisher else {
            throw KilnError(.publish, "publishing is not available in this build of kiln")
        }
        let scratch = state.workDirectory + "/publish"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let tags = ["kiln:build": name, "kiln:template-hash": String(template.contentHash.prefix(16)),
                    "kiln:version": options.kilnVersion]
        do {
            let result = try await publisher.publish(disk: state.workDisk, ami: ami, build: name, tags: tags,
                                                     scratch: scratch, events: events)
            state.published = result
            info("AMI \(result.imageID) (snapshot \(result.snapshotID)) in \(result.region)")
        } catch {
            throw KilnError.wrap(error, as: .publish, "publishing the AMI failed")
        }
    }
}
