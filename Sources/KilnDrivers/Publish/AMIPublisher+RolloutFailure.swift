import Foundation
import KilnAWS
import KilnCore
import KilnTemplate

/// What a rollout has changed so far and what it has not touched yet, for the error that stops it.
struct RolloutProgress: Sendable {
    enum Step: Sendable, Equatable { case launchTemplate, defaultVersion, group, refresh, retention }

    var stage = "starting"
    private(set) var changed: [String] = []
    private(set) var untouched: [(step: Step, text: String)] = []
    var refreshID: String?

    init(ami: AMISpec) {
        if let spec = ami.launchTemplate {
            untouched.append((.launchTemplate, "launch template \(spec.name) (no version added)"))
            if spec.setDefault { untouched.append((.defaultVersion, "the default version of \(spec.name)")) }
        }
        if let group = ami.autoScalingGroup {
            untouched.append((.group, "group \(group.name)'s settings"))
            if group.refresh != nil { untouched.append((.refresh, "group \(group.name)'s instances (no instance refresh started)")) }
        }
        if ami.retention != nil { untouched.append((.retention, "older images (retention did not run)")) }
    }

    /// Marks a step done, noting what it changed (nothing when `text` is nil).
    mutating func finish(_ step: Step, _ text: String? = nil) {
        untouched.removeAll { $0.step == step }
        if let text { changed.append(text) }
    }

    var summary: String {
        "changed: " + (changed.isEmpty ? "nothing" : changed.joined(separator: "; "))
            + (untouched.isEmpty ? "" : "; not changed: " + untouched.map(\.text).joined(separator: "; "))
    }
}

extension AMIPublisher {
    static func rolloutFailure(_ error: any Error, progress: RolloutProgress, registered: PublishResult,
                               request: PublishRequest) -> KilnError {
        let published = "The AMI \(registered.imageID) (snapshot \(registered.snapshotID)) was published in "
            + "\(registered.region) and stays"
        let running = progress.refreshID.flatMap { id -> String? in
            guard let group = request.ami.autoScalingGroup?.name else { return nil }
            return "instance refresh \(id) goes on in AWS (stop it with: aws autoscaling cancel-instance-refresh "
                + "--auto-scaling-group-name \(group))"
        }
        if error is CancellationError || (error as? KilnError)?.code == .cancelled {
            let refreshNote = running.map { "; \($0)" } ?? ""
            return KilnError(.cancelled, "interrupted while \(progress.stage). \(published); \(progress.summary)\(refreshNote)")
        }
        let reason: String
        var hint: String?
        switch error {
        case let problem as RolloutPlanning.Problem:
            reason = problem.message
            hint = problem.hint
        case let aws as AWSError:
            reason = "\(aws)"
            hint = rolloutHint(for: aws, credentials: request.configuration.credentials)
        case let ended as InstanceRefreshFollower.Ended:
            reason = "the refresh ended \(ended.refresh.status): \(ended.refresh.statusReason ?? "AWS gave no reason")"
        case let late as InstanceRefreshFollower.StillRunning:
            reason = "the refresh had not ended after \(DurationFormat.string(late.after)) (\(late.lastState)); it goes on in AWS"
            hint = "raise auto_scaling_group.refresh.timeout; to stop the refresh: aws autoscaling cancel-instance-refresh "
                + "--auto-scaling-group-name \(late.group)"
        default:
            reason = "\(error)"
        }
        return KilnError(.publish, "rolling out the AMI failed while \(progress.stage): \(reason). \(published); "
                         + progress.summary, hint: hint, cause: error)
    }

    static func rolloutHint(for error: AWSError, credentials: AWSCredentials) -> String? {
        switch error.code {
        case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
            return "the rollout needs ec2:DescribeLaunchTemplates, ec2:DescribeLaunchTemplateVersions, "
                + "ec2:CreateLaunchTemplate, ec2:CreateLaunchTemplateVersion, ec2:ModifyLaunchTemplate, ec2:CreateTags, "
                + "autoscaling:DescribeAutoScalingGroups, autoscaling:UpdateAutoScalingGroup, "
                + "autoscaling:StartInstanceRefresh and autoscaling:DescribeInstanceRefreshes (and iam:PassRole when the "
                + "template names an instance profile)"
        case "InstanceRefreshInProgress":
            return "another instance refresh of the group is running; wait for it or cancel it"
        default:
            return hint(for: error, credentials: credentials)
        }
    }
}
