import Foundation
import KilnAWS
import KilnCore
import KilnTemplate

extension AMIPublisher {
    /// Before anything is uploaded: that the launch template and the group are there and fit
    /// (read-only). The same checks run again after registration, on the state of that moment.
    func checkRollout(_ request: PublishRequest) async throws {
        guard let spec = request.ami.launchTemplate else { return }
        let (ec2, autoScaling) = rolloutClients(request)
        do {
            _ = try await RolloutTargets.find(spec, group: request.ami.autoScalingGroup, ec2: ec2, autoScaling: autoScaling)
        } catch let problem as RolloutPlanning.Problem {
            throw KilnError(.publish, "cannot roll the AMI out: \(problem.message); nothing was uploaded or changed",
                            hint: problem.hint)
        } catch let error as AWSError {
            throw KilnError(.publish, "checking the launch template and group failed: \(error); nothing was uploaded or changed",
                            hint: Self.rolloutHint(for: error, credentials: request.configuration.credentials), cause: error)
        }
    }

    /// After the image is available: a new launch template version (optionally the default), the
    /// group pointed at it and refreshed, then retention. A failure says that the AMI stays and
    /// what did and did not change; retention problems are only warnings.
    func rollOut(_ registered: PublishResult, _ request: PublishRequest) async throws -> PublishResult {
        let ami = request.ami
        guard ami.launchTemplate != nil || ami.retention != nil else { return registered }
        var result = registered
        var progress = RolloutProgress(ami: ami)
        do {
            if let spec = ami.launchTemplate {
                try await rollOutLaunchTemplate(spec, request, &result, &progress)
            }
            if let retention = ami.retention {
                progress.stage = "applying retention"
                try await retain(retention, request, &result)
                progress.finish(.retention)
            }
        } catch {
            throw Self.rolloutFailure(error, progress: progress, registered: registered, request: request)
        }
        return result
    }

    private func rollOutLaunchTemplate(_ spec: LaunchTemplateSpec, _ request: PublishRequest, _ result: inout PublishResult,
                                       _ progress: inout RolloutProgress) async throws {
        let (ec2, autoScaling) = rolloutClients(request)
        let (build, events, imageID) = (request.build, request.events, result.imageID)
        progress.stage = "checking launch template '\(spec.name)'"
        let targets = try await RolloutTargets.find(spec, group: request.ami.autoScalingGroup, ec2: ec2, autoScaling: autoScaling)
        let userData = try spec.userDataFile.map { path in
            do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw RolloutPlanning.Problem("cannot read the user data file \(path): \(error.localizedDescription)")
            }
        }
        let data = RolloutPlanning.launchTemplateData(spec, imageID: imageID, userData: userData)
        let description = RolloutPlanning.versionDescription(tags: request.tags, imageID: imageID)

        let templateID: String, version: Int
        if let template = targets.template {
            progress.stage = "adding a version to launch template '\(spec.name)' (\(template.id))"
            let created = try await ec2.createLaunchTemplateVersion(templateID: template.id, sourceVersion: template.defaultVersion,
                                                                    data: data, versionDescription: description)
            (templateID, version) = (template.id, created.number)
            progress.finish(.launchTemplate, "created version \(version) of launch template \(spec.name) (\(templateID)) "
                            + "from its default version \(template.defaultVersion)")
            if spec.setDefault {
                progress.stage = "making version \(version) the default of launch template '\(spec.name)'"
                try await ec2.setDefaultLaunchTemplateVersion(templateID: templateID, version: version)
                progress.finish(.defaultVersion, "made version \(version) the default of \(spec.name)")
            }
        } else {
            progress.stage = "creating launch template '\(spec.name)'"
            let template = try await ec2.createLaunchTemplate(name: spec.name, data: data, versionDescription: description,
                                                              tags: request.tags.filter { $0.key != "Name" })
            (templateID, version) = (template.id, template.latestVersion)
            progress.finish(.launchTemplate, "created launch template \(spec.name) (\(templateID)), version \(version)")
            progress.finish(.defaultVersion)
            result.details["launchTemplateCreated"] = "true"
        }
        result.details["launchTemplateID"] = templateID
        result.details["launchTemplateName"] = spec.name
        result.details["launchTemplateVersion"] = String(version)
        result.details["launchTemplateDefault"] = String(spec.setDefault || targets.template == nil)
        events.emit(.info(build: build, message: "launch template \(spec.name) (\(templateID)) version \(version) launches \(imageID)"
                          + (spec.setDefault || targets.template == nil ? "; it is the default version" : "")))

        guard let groupSpec = request.ami.autoScalingGroup, let plan = targets.groupPlan else { return }
        result.details["autoScalingGroup"] = groupSpec.name
        if plan.changesGroup {
            progress.stage = "updating group '\(groupSpec.name)'"
            let update = plan.update(group: groupSpec.name, templateID: templateID, newVersion: version)
            try await autoScaling.updateGroup(update)
            progress.finish(.group, "set group \(groupSpec.name)'s " + Self.describe(update))
            events.emit(.info(build: build, message: "group \(groupSpec.name): " + Self.describe(update)))
        } else {
            progress.finish(.group)
        }
        guard let refresh = groupSpec.refresh else { return }
        progress.stage = "starting an instance refresh of group '\(groupSpec.name)'"
        let preferences = AutoScalingClient.RefreshPreferences(
            minHealthyPercentage: refresh.minHealthyPercentage,
            instanceWarmupSeconds: refresh.instanceWarmup.map { Int($0.components.seconds) })
        let refreshID = try await autoScaling.startInstanceRefresh(group: groupSpec.name, preferences: preferences)
        result.details["instanceRefreshID"] = refreshID
        progress.refreshID = refreshID
        progress.finish(.refresh, "started instance refresh \(refreshID) of group \(groupSpec.name)")
        events.emit(.info(build: build, message: "instance refresh \(refreshID) of group \(groupSpec.name) started"))
        guard refresh.wait else {
            result.details["instanceRefreshStatus"] = "started"
            return
        }
        progress.stage = "following instance refresh \(refreshID) of group '\(groupSpec.name)'"
        let follower = InstanceRefreshFollower(autoScaling: autoScaling, interval: pollInterval * 3, timeout: refresh.timeout)
        var lastSeen = ""
        let final = try await follower.follow(group: groupSpec.name, id: refreshID) { state in
            let seen = "\(state.status) \(state.percentageComplete.map { "\($0)%" } ?? "")"
            guard seen != lastSeen else { return }
            lastSeen = seen
            events.emit(.info(build: build, message: "instance refresh \(refreshID): \(state.status)"
                              + (state.percentageComplete.map { ", \($0)% done" } ?? "")
                              + (state.instancesToUpdate.map { ", \($0) instances to update" } ?? "")))
        }
        result.details["instanceRefreshStatus"] = final.status
    }

    /// Retention: cancellation stops it; AWS problems become warnings (the rollout itself worked).
    private func retain(_ retention: RetentionSpec, _ request: PublishRequest, _ result: inout PublishResult) async throws {
        let (build, events) = (request.build, request.events)
        let pruner = ImagePruner(configuration: request.configuration, transport: request.transport, retry: retry)
        do {
            let plan = try await pruner.plan(namePattern: retention.namePattern, keep: retention.keep,
                                             protected: [result.imageID], ownTemplate: request.ami.launchTemplate?.name)
            events.emit(.info(build: build, message: "retention: \(plan.kept.count + plan.removed.count) images named "
                              + "'\(retention.namePattern)', keeping the newest \(retention.keep) and those in use"))
            for line in plan.lines { events.emit(.info(build: build, message: "retention: " + line)) }
            let outcome = try await pruner.execute(plan) { line in events.emit(.info(build: build, message: "retention: " + line)) }
            result.details["retentionKept"] = plan.kept.map(\.image.id).joined(separator: " ")
            result.details["retentionDeregistered"] = outcome.deregistered.joined(separator: " ")
            result.details["retentionDeletedSnapshots"] = outcome.deletedSnapshots.joined(separator: " ")
            if !outcome.failures.isEmpty {
                result.details["retentionProblems"] = outcome.failures.joined(separator: "; ")
                events.emit(.warning(build: build, message: "retention left \(outcome.failures.count) step(s) undone: "
                                     + outcome.failures.joined(separator: "; ") + "; `kiln ami prune` retries"))
            }
        } catch let error as AWSError {
            result.details["retentionProblems"] = "\(error)"
            events.emit(.warning(build: build, message: "retention did not run: \(error); `kiln ami prune` retries"))
        }
    }

    func rolloutClients(_ request: PublishRequest) -> (EC2Client, AutoScalingClient) {
        (EC2Client(configuration: request.configuration, transport: request.transport, retry: retry),
         AutoScalingClient(configuration: request.configuration, transport: request.transport, retry: retry))
    }

    static func describe(_ update: AutoScalingClient.GroupUpdate) -> String {
        var parts: [String] = []
        if let template = update.launchTemplate, let version = template.version { parts.append("launch template version \(version)") }
        if let size = update.minSize { parts.append("min \(size)") }
        if let size = update.maxSize { parts.append("max \(size)") }
        if let size = update.desiredCapacity { parts.append("desired \(size)") }
        return parts.joined(separator: ", ")
    }
}
