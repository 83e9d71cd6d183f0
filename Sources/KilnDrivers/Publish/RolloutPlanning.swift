import Foundation
import KilnAWS
import KilnTemplate

/// The pure decisions of a rollout: what the new launch template version sets, whether a group
/// can be rolled onto it and what of the group changes. No AWS calls here.
enum RolloutPlanning {
    /// Something about the account's current state that makes the rollout impossible as asked.
    struct Problem: Error, Equatable {
        var message: String
        var hint: String?
        init(_ message: String, hint: String? = nil) {
            self.message = message
            self.hint = hint
        }
    }

    /// Marks launch template versions Kiln made (versions cannot be tagged): retention deletes
    /// only such versions.
    static let versionDescriptionPrefix = "Kiln "

    static func versionDescription(tags: [String: String], imageID: String) -> String {
        let text = "\(versionDescriptionPrefix)\(tags["kiln:version"] ?? "?"): build \(tags["kiln:build"] ?? "?"), "
            + "template \(tags["kiln:template-hash"] ?? "?"), image \(imageID)"
        return String(text.prefix(255))
    }

    /// The new version's fields: the image, and only what the template sets (AWS copies the rest
    /// from the source version).
    static func launchTemplateData(_ spec: LaunchTemplateSpec, imageID: String, userData: Data?) -> EC2Client.LaunchTemplateData {
        var data = EC2Client.LaunchTemplateData(imageID: imageID, instanceType: spec.instanceType, keyName: spec.keyName,
                                                securityGroupIDs: spec.securityGroupIDs ?? [],
                                                userData: userData?.base64EncodedString())
        if let tags = spec.instanceTags { data.tagSpecifications.append(.init(resourceType: "instance", tags: tags)) }
        if let tags = spec.volumeTags { data.tagSpecifications.append(.init(resourceType: "volume", tags: tags)) }
        if spec.market == .spot {
            data.marketType = "spot"
            data.spotMaxPrice = spec.maxPrice
        }
        return data
    }

    /// What a version based on `source` cannot do: AWS merges new fields into the source version
    /// and has no way to remove one.
    static func check(_ spec: LaunchTemplateSpec, against source: EC2Client.LaunchTemplateVersion) -> Problem? {
        let place = "the default version (\(source.number)) of launch template '\(spec.name)'"
        if spec.market == .onDemand, source.marketType == "spot" {
            return Problem("\(place) launches spot instances, and a version based on it cannot drop that",
                           hint: "set market: spot, or make an on-demand default version by hand first")
        }
        if spec.securityGroupIDs != nil, source.hasNetworkInterfaces {
            return Problem("\(place) sets network interfaces, so security groups belong to them and security_group_ids "
                           + "cannot be set beside them",
                           hint: "remove security_group_ids, or set the groups on the interfaces by hand")
        }
        return nil
    }

    /// What Kiln does to a group after adding a version to `template`.
    struct GroupPlan: Equatable {
        /// The group pins a version number: point it at the new version.
        var repoint: Bool
        /// The reference as the group wrote it, for messages.
        var reference: String
        var minSize: Int?
        var maxSize: Int?
        var desiredCapacity: Int?

        var changesGroup: Bool { repoint || minSize != nil || maxSize != nil || desiredCapacity != nil }

        func update(group: String, templateID: String, newVersion: Int) -> AutoScalingClient.GroupUpdate {
            AutoScalingClient.GroupUpdate(
                name: group,
                launchTemplate: repoint ? .init(id: templateID, version: String(newVersion)) : nil,
                minSize: minSize, maxSize: maxSize, desiredCapacity: desiredCapacity)
        }
    }

    static func groupPlan(_ spec: AutoScalingGroupSpec, group: AutoScalingClient.Group,
                          template: EC2Client.LaunchTemplate?, templateName: String, setDefault: Bool) -> Result<GroupPlan, Problem> {
        guard let template else {
            return .failure(Problem("group '\(group.name)' cannot launch from launch template '\(templateName)': "
                                    + "the template does not exist yet", hint: "point the group at the template first"))
        }
        let names = { (reference: AutoScalingClient.LaunchTemplateReference) in
            reference.names(templateID: template.id, templateName: template.name)
        }
        let repoint: Bool
        let written: String
        if let primary = group.launchTemplate, names(primary) {
            written = primary.versionText
            switch primary.versionText {
            case "$Latest": repoint = false
            case "$Default":
                guard setDefault else { return .failure(followsOldDefault(group: group.name, template: template.name)) }
                repoint = false
            default: repoint = true
            }
        } else if let mixed = group.mixedInstancesTemplates.first, names(mixed) {
            written = mixed.versionText
            switch mixed.versionText {
            case "$Latest": repoint = false
            case "$Default":
                guard setDefault else { return .failure(followsOldDefault(group: group.name, template: template.name)) }
                repoint = false
            default:
                return .failure(Problem("group '\(group.name)' pins version \(mixed.versionText) of launch template "
                                        + "'\(template.name)' in its mixed instances policy; Kiln does not rewrite that policy",
                                        hint: "let the policy use $Latest, or $Default with set_default: true"))
            }
        } else {
            return .failure(Problem("group '\(group.name)' does not launch from launch template '\(template.name)' "
                                    + "(\(template.id)); it uses \(describeLaunchSource(group))",
                                    hint: "name the group that uses the template, or point the group at it first"))
        }

        let minSize = spec.min ?? group.minSize, maxSize = spec.max ?? group.maxSize
        let desired = spec.desired ?? group.desiredCapacity
        if minSize > maxSize || desired < minSize || desired > maxSize {
            return .failure(Problem("group '\(group.name)' would have min \(minSize), max \(maxSize) and desired \(desired), "
                                    + "which AWS refuses (it has min \(group.minSize), max \(group.maxSize), "
                                    + "desired \(group.desiredCapacity))",
                                    hint: "set min, max and desired together under auto_scaling_group"))
        }
        return .success(GroupPlan(repoint: repoint, reference: written, minSize: spec.min, maxSize: spec.max,
                                  desiredCapacity: spec.desired))
    }

    static func followsOldDefault(group: String, template: String) -> Problem {
        Problem("group '\(group)' launches from the default version of launch template '\(template)', "
                + "and set_default is false: the new version would never reach it",
                hint: "set launch_template.set_default: true")
    }

    static func describeLaunchSource(_ group: AutoScalingClient.Group) -> String {
        let references = group.templateReferences.map { reference in
            "launch template \(reference.name ?? reference.id ?? "?") version \(reference.versionText)"
        }
        if !references.isEmpty { return references.joined(separator: ", ") }
        if let configuration = group.launchConfigurationName { return "launch configuration \(configuration)" }
        return "no launch template"
    }
}
