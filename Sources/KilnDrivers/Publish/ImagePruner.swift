import Foundation
import KilnAWS
import KilnCore

/// Image retention: lists the account's images of a name pattern, finds what still uses them,
/// decides (`RetentionPlan.decide`) and removes what may go, in dependency order. Used at the
/// end of a rollout and by `kiln ami prune`.
public struct ImagePruner: Sendable {
    public var configuration: AWSConfiguration
    var ec2: EC2Client
    var autoScaling: AutoScalingClient

    public init(configuration: AWSConfiguration, transport: any HTTPTransport, retry: RetryPolicy = .standard) {
        self.configuration = configuration
        ec2 = EC2Client(configuration: configuration, transport: transport, retry: retry)
        autoScaling = AutoScalingClient(configuration: configuration, transport: transport, retry: retry)
    }

    /// Resolves credentials and endpoints as a build does (`region` first, then the environment).
    public init(region: String?, environment: AWSEnvironment = .current) throws {
        do {
            let configuration = try AWSConfiguration.resolve(environment: environment, preferredRegion: region)
            self.init(configuration: configuration, transport: URLSessionTransport(maximumConnectionsPerHost: 4))
        } catch let error as AWSConfigurationError {
            throw KilnError(.publish, "cannot reach AWS: \(error.message)", hint: error.hint)
        }
    }

    public var region: String { configuration.region }

    /// The plan for keeping the `keep` newest images named like `namePattern`; nothing is changed.
    public func plan(namePattern: String, keep: Int, protected: Set<String> = [], ownTemplate: String? = nil) async throws
        -> RetentionPlan {
        let images = try await ec2.describeOwnedImages(namePattern: namePattern)
        // The newest `keep` available ones stay anyway: only the others need their users looked up.
        var available = 0
        let candidates = images.sorted(by: RetentionPlan.newerFirst).filter { image in
            guard ["available", "disabled"].contains(image.state) else { return true }
            available += 1
            return available > keep
        }.map(\.id)
        let findings = try await ImageUsageScanner(ec2: ec2, autoScaling: autoScaling).scan(images: candidates,
                                                                                           ownTemplate: ownTemplate)
        return RetentionPlan.decide(images: images, keep: keep, namePattern: namePattern, protected: protected,
                                    uses: findings.uses, staleVersions: findings.staleVersions)
    }

    /// The plan for removing exactly these images. Throws, changing nothing, when one is not an
    /// image of this account here, or something still uses it.
    public func planRemoval(of imageIDs: [String], ownTemplate: String? = nil) async throws -> RetentionPlan {
        let images = try await ec2.describeOwnedImages(ids: imageIDs)
        let missing = imageIDs.filter { id in !images.contains { $0.id == id } }
        if !missing.isEmpty {
            throw KilnError(.publish, "\(missing.joined(separator: ", ")) \(missing.count == 1 ? "is not an image" : "are not images") "
                            + "of this account in \(region); nothing was changed")
        }
        let findings = try await ImageUsageScanner(ec2: ec2, autoScaling: autoScaling).scan(images: imageIDs, ownTemplate: ownTemplate)
        let plan = RetentionPlan.decide(images: images, keep: 0, namePattern: "", protected: [], uses: findings.uses,
                                        staleVersions: findings.staleVersions)
        if !plan.kept.isEmpty {
            let reasons = plan.kept.map { "\($0.image.id) \($0.image.name): " + $0.reasons.map(\.description).joined(separator: "; ") }
            throw KilnError(.publish, "cannot prune \(plan.kept.count == 1 ? "an image" : "images") still in use; nothing was changed:\n  "
                            + reasons.joined(separator: "\n  "),
                            hint: "move what uses the image to another image first")
        }
        return plan
    }

    public struct Outcome: Sendable, Equatable {
        /// What was done, one line per action.
        public var done: [String] = []
        /// What failed, and what was skipped because of it.
        public var failures: [String] = []
        public var deregistered: [String] = []
        public var deletedSnapshots: [String] = []
    }

    /// Runs the plan's actions in order. When an action of an image fails, the image's later
    /// actions are skipped (its snapshots stay while it is registered); other images go on.
    public func execute(_ plan: RetentionPlan, report: @Sendable (String) -> Void = { _ in }) async throws -> Outcome {
        var outcome = Outcome()
        var blocked: Set<String> = []
        for action in plan.actions {
            try Task.checkCancellation()
            if blocked.contains(action.imageID) {
                outcome.failures.append("skipped: \(action) (an earlier step for \(action.imageID) failed)")
                continue
            }
            do {
                switch action {
                case .deleteLaunchTemplateVersions(let templateID, _, let versions, _):
                    let failed = try await ec2.deleteLaunchTemplateVersions(templateID: templateID, versions: versions)
                    if !failed.isEmpty {
                        throw AWSError(code: failed[0].code, message: failed.map { "version \($0.version): \($0.message)" }
                                        .joined(separator: "; "), httpStatus: 200)
                    }
                case .deregisterImage(let id, _):
                    try await ec2.deregisterImage(id: id)
                    outcome.deregistered.append(id)
                case .deleteSnapshot(let id, _):
                    try await ec2.deleteSnapshot(id: id)
                    outcome.deletedSnapshots.append(id)
                }
                outcome.done.append(Self.pastTense(action))
                report(Self.pastTense(action))
            } catch let error as AWSError {
                blocked.insert(action.imageID)
                outcome.failures.append("could not \(action): \(error)")
                report("could not \(action): \(error)")
            }
        }
        return outcome
    }

    static func pastTense(_ action: RetentionPlan.Action) -> String {
        let text = action.description
        for (verb, done) in [("delete ", "deleted "), ("deregister ", "deregistered ")] where text.hasPrefix(verb) {
            return done + text.dropFirst(verb.count)
        }
        return text
    }
}
