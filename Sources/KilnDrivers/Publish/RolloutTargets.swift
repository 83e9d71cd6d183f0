import Foundation
import KilnAWS
import KilnTemplate

/// What a rollout works on, as found in the account (read-only calls), with every check that can
/// be made before changing anything.
struct RolloutTargets: Sendable {
    /// nil: the template does not exist and will be created.
    var template: EC2Client.LaunchTemplate?
    /// The template's default version, which the new version is based on.
    var source: EC2Client.LaunchTemplateVersion?
    var group: AutoScalingClient.Group?
    var groupPlan: RolloutPlanning.GroupPlan?

    static let refreshRunningStates: Set<String> = ["Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"]

    static func find(_ spec: LaunchTemplateSpec, group groupSpec: AutoScalingGroupSpec?, ec2: EC2Client,
                     autoScaling: AutoScalingClient) async throws -> RolloutTargets {
        let region = ec2.client.configuration.region
        var targets = RolloutTargets()
        targets.template = try await ec2.describeLaunchTemplates(names: [spec.name]).first
        if let template = targets.template {
            targets.source = try await ec2.describeLaunchTemplateVersions(templateID: template.id,
                                                                          versions: [String(template.defaultVersion)]).first
            if let source = targets.source, let problem = RolloutPlanning.check(spec, against: source) { throw problem }
        } else if !spec.create {
            throw RolloutPlanning.Problem("launch template '\(spec.name)' does not exist in \(region)",
                                          hint: "check its name and region, or set launch_template.create: true to create it")
        }
        if let path = spec.userDataFile {
            guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber,
                  FileManager.default.isReadableFile(atPath: path) else {
                throw RolloutPlanning.Problem("cannot read the user data file \(path)")
            }
            if size.intValue > 16 * 1024 {
                throw RolloutPlanning.Problem("the user data file \(path) is \(size.intValue) bytes; EC2 takes at most 16 KiB")
            }
        }
        guard let groupSpec else { return targets }
        guard let group = try await autoScaling.describeGroups(names: [groupSpec.name]).first else {
            throw RolloutPlanning.Problem("Auto Scaling group '\(groupSpec.name)' does not exist in \(region)",
                                          hint: "check the group's name and region")
        }
        targets.group = group
        switch RolloutPlanning.groupPlan(groupSpec, group: group, template: targets.template, templateName: spec.name,
                                         setDefault: spec.setDefault) {
        case .success(let plan): targets.groupPlan = plan
        case .failure(let problem): throw problem
        }
        if groupSpec.refresh != nil,
           let running = try await autoScaling.describeInstanceRefreshes(group: group.name)
               .first(where: { refreshRunningStates.contains($0.status) }) {
            throw RolloutPlanning.Problem("group '\(group.name)' already has instance refresh \(running.id) \(running.status)",
                                          hint: "wait for it to end, or cancel it: aws autoscaling cancel-instance-refresh "
                                              + "--auto-scaling-group-name \(group.name)")
        }
        return targets
    }
}
