import Foundation
import KilnAWS

/// Finds what still stands on some images: the default and latest version of every launch
/// template, every Auto Scaling group (through its launch template version or launch
/// configuration), and instances not yet terminated. Read-only.
struct ImageUsageScanner: Sendable {
    var ec2: EC2Client
    var autoScaling: AutoScalingClient

    struct Findings: Sendable, Equatable {
        var uses: [String: [ImageUse]]
        var staleVersions: [StaleLaunchTemplateVersion]
    }

    /// `ownTemplate`: the launch template whose unused Kiln versions may be deleted with their image.
    func scan(images: [String], ownTemplate: String?) async throws -> Findings {
        let candidates = Set(images)
        var uses: [String: [ImageUse]] = [:]
        func note(_ image: String?, _ use: ImageUse) {
            guard let image, candidates.contains(image), !(uses[image] ?? []).contains(use) else { return }
            uses[image, default: []].append(use)
        }
        guard !candidates.isEmpty else { return Findings(uses: [:], staleVersions: []) }

        // Default and latest versions of every template, by template id.
        var versions: [String: [Int: EC2Client.LaunchTemplateVersion]] = [:]
        var defaults: [String: Int] = [:], latest: [String: Int] = [:], idsByName: [String: String] = [:]
        for version in try await ec2.defaultAndLatestLaunchTemplateVersions() {
            versions[version.templateID, default: [:]][version.number] = version
            idsByName[version.templateName] = version.templateID
            if version.isDefault { defaults[version.templateID] = version.number }
            latest[version.templateID] = max(latest[version.templateID] ?? 0, version.number)
        }
        for (templateID, byNumber) in versions {
            for (number, version) in byNumber {
                let roles = [defaults[templateID] == number ? "default" : nil, latest[templateID] == number ? "latest" : nil]
                    .compactMap { $0 }
                guard !roles.isEmpty else { continue }
                note(version.imageID, .launchTemplateVersion(template: version.templateName, templateID: templateID,
                                                             version: number, role: roles.joined(separator: " and ")))
            }
        }

        // Groups, through the version each of their template references resolves to.
        let groups = try await autoScaling.describeGroups()
        var pinned: [String: Set<Int>] = [:]
        for group in groups {
            for reference in group.templateReferences {
                guard let templateID = reference.id ?? reference.name.flatMap({ idsByName[$0] }),
                      let number = Int(reference.versionText) else { continue }
                pinned[templateID, default: []].insert(number)
            }
        }
        for (templateID, numbers) in pinned {
            let missing = numbers.filter { versions[templateID]?[$0] == nil }.sorted()
            guard !missing.isEmpty else { continue }
            for version in try await ec2.describeLaunchTemplateVersions(templateID: templateID, versions: missing.map(String.init)) {
                versions[templateID, default: [:]][version.number] = version
            }
        }
        var configurations: [String: [String]] = [:]
        for group in groups {
            for reference in group.templateReferences {
                guard let templateID = reference.id ?? reference.name.flatMap({ idsByName[$0] }) else { continue }
                let number: Int?
                switch reference.versionText {
                case "$Default": number = defaults[templateID]
                case "$Latest": number = latest[templateID]
                default: number = Int(reference.versionText)
                }
                guard let number, let version = versions[templateID]?[number] else { continue }
                let written = reference.versionText.hasPrefix("$") ? " (\(reference.versionText))" : ""
                note(version.imageID, .group(name: group.name,
                                             through: "launch template \(version.templateName) version \(number)\(written)"))
            }
            if let configuration = group.launchConfigurationName { configurations[configuration, default: []].append(group.name) }
        }
        for (configuration, image) in try await autoScaling.describeLaunchConfigurations(names: configurations.keys.sorted()) {
            for group in configurations[configuration] ?? [] {
                note(image, .group(name: group, through: "launch configuration \(configuration)"))
            }
        }

        for instance in try await ec2.describeInstances(usingImages: images) {
            note(instance.imageID, .instance(id: instance.id, state: instance.state))
        }

        // Versions Kiln made in its own template that nothing uses any more.
        var stale: [StaleLaunchTemplateVersion] = []
        if let ownTemplate, let template = try await ec2.describeLaunchTemplates(names: [ownTemplate]).first {
            let used = Set([defaults[template.id], latest[template.id]].compactMap { $0 }
                           + [template.defaultVersion, template.latestVersion]).union(pinned[template.id] ?? [])
            for version in try await ec2.describeLaunchTemplateVersions(templateID: template.id) {
                guard let image = version.imageID, candidates.contains(image), !used.contains(version.number),
                      version.description?.hasPrefix(RolloutPlanning.versionDescriptionPrefix) == true else { continue }
                stale.append(StaleLaunchTemplateVersion(templateID: template.id, templateName: template.name,
                                                        version: version.number, imageID: image))
            }
        }
        for key in uses.keys { uses[key]?.sort { $0.description < $1.description } }
        return Findings(uses: uses, staleVersions: stale)
    }
}
