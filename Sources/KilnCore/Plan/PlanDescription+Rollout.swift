import Foundation
import KilnTemplate

extension PlanDescription {
    /// The rollout settings of `publish.ami`, one line each (none when there is no rollout).
    static func rolloutLines(_ ami: AMISpec) -> [String] {
        var lines: [String] = []
        if let template = ami.launchTemplate {
            var line = "launch template \(template.name): a new version from the default version"
            if template.create { line += " (created when missing)" }
            line += template.setDefault ? ", made the default" : ", not made the default"
            var sets: [String] = []
            if let type = template.instanceType { sets.append("instance type \(type)") }
            if let key = template.keyName { sets.append("key \(key)") }
            if let groups = template.securityGroupIDs { sets.append("security groups \(groups.joined(separator: " "))") }
            if let file = template.userDataFile { sets.append("user data from \(file)") }
            if let tags = template.instanceTags { sets.append("instance tags \(describe(tags))") }
            if let tags = template.volumeTags { sets.append("volume tags \(describe(tags))") }
            if let market = template.market {
                sets.append(market == .spot ? "spot" + (template.maxPrice.map { " (max \($0) USD/h)" } ?? "") : "on-demand")
            }
            line += "; sets the image" + (sets.isEmpty ? " only" : ", " + sets.joined(separator: ", "))
            lines.append(line)
        }
        if let group = ami.autoScalingGroup {
            var line = "auto scaling group \(group.name)"
            let sizes = [group.min.map { "min \($0)" }, group.max.map { "max \($0)" }, group.desired.map { "desired \($0)" }]
                .compactMap { $0 }
            line += sizes.isEmpty ? ": sizes unchanged" : ": " + sizes.joined(separator: ", ")
            if let refresh = group.refresh {
                var parts: [String] = []
                if let percentage = refresh.minHealthyPercentage { parts.append("min healthy \(percentage)%") }
                if let warmup = refresh.instanceWarmup { parts.append("warm-up \(DurationFormat.string(warmup))") }
                parts.append(refresh.wait ? "followed for up to \(DurationFormat.string(refresh.timeout))" : "not followed")
                line += "; instance refresh (\(parts.joined(separator: ", ")))"
            } else {
                line += "; no instance refresh"
            }
            lines.append(line)
        }
        if let retention = ami.retention {
            lines.append("retention: keep the newest \(retention.keep) images named '\(retention.namePattern)' and those in use; "
                         + "deregister the others, delete their snapshots")
        }
        return lines
    }

    static func describe(_ tags: [String: String]) -> String {
        tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}
