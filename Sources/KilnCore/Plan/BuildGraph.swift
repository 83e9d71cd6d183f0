import Foundation
import KilnTemplate

/// One build to run, with the build whose output it starts from (`source: { build: ... }`).
public struct BuildNode: Sendable {
    /// `<template path>#<build name>`: unique across templates.
    public var id: String
    public var template: Template
    public var build: BuildSpec
    /// The id of the node it starts from.
    public var parent: String?
    /// The parent's output this build boots from.
    public var parentOutput: OutputSpec?
    /// False for a parent pulled in only because a requested build starts from it.
    public var requested: Bool

    public var memoryMiB: Int { build.machine.memoryMiB }
}

/// The builds of the templates asked for, with every build they start from, parents first.
/// Checked before anything runs: references resolve, no cycles, each parent makes a disk image.
public enum BuildGraph {
    /// The output formats a build can start from, in order of preference (QEMU reads them all).
    static let bootableFormats: [OutputFormat] = [.qcow2, .raw, .vmdk, .vdi, .vhdx, .vhd]

    public static func make(_ templates: [Template],
                            loadTemplate: (String) throws -> Template) throws -> [BuildNode] {
        var loaded: [String: Template] = [:]
        var ordered: [BuildNode] = []
        var placed: [String: Int] = [:]
        var visiting: Set<String> = []

        func id(_ template: Template, _ build: String) -> String { template.path + "#" + build }

        func loadedTemplate(at path: String) throws -> Template {
            if let template = loaded[path] { return template }
            let template = try loadTemplate(path)
            loaded[path] = template
            return template
        }

        func visit(_ build: BuildSpec, in template: Template, requested: Bool) throws {
            let key = id(template, build.name)
            if let index = placed[key] {
                if requested { ordered[index].requested = true }
                return
            }
            guard !visiting.contains(key) else {
                throw KilnError(.template, "\(build.location): builds[\(build.name)].source.build: the builds start from each other in a cycle")
            }
            visiting.insert(key)
            defer { visiting.remove(key) }
            var node = BuildNode(id: key, template: template, build: build, parent: nil, parentOutput: nil, requested: requested)
            if case .build(let reference) = build.source {
                // The same template is read again whole: --only may have left the parent out.
                var parentTemplate = try loadedTemplate(at: reference.template ?? template.path)
                if !parentTemplate.builds.contains(where: { $0.name == reference.build }) {
                    // A template given on the command line may have had the parent filtered out (--only).
                    parentTemplate = try loadTemplate(parentTemplate.path)
                }
                guard let parent = parentTemplate.builds.first(where: { $0.name == reference.build }) else {
                    let names = parentTemplate.builds.map { $0.name }.joined(separator: ", ")
                    throw KilnError(.template, "\(build.location): builds[\(build.name)].source.build: \(parentTemplate.path) has no build '\(reference.build)' (it has: \(names))")
                }
                guard let output = bootableFormats.lazy.compactMap({ format in parent.outputs.first { $0.format == format } }).first else {
                    throw KilnError(.template, "\(build.location): builds[\(build.name)].source.build: build '\(parent.name)' makes no disk image to start from",
                                    hint: "give '\(parent.name)' a qcow2 (or raw, vmdk, vdi, vhdx, vhd) output")
                }
                try visit(parent, in: parentTemplate, requested: false)
                node.parent = id(parentTemplate, parent.name)
                node.parentOutput = output
            }
            placed[key] = ordered.count
            ordered.append(node)
        }

        for template in templates { loaded[template.path] = loaded[template.path] ?? template }
        for template in templates {
            for build in template.builds { try visit(build, in: template, requested: true) }
        }
        var seen: [String: String] = [:]
        for node in ordered {
            if let other = seen[node.build.name], other != node.template.path {
                throw KilnError(.template, "\(node.build.location): build name '\(node.build.name)' is also used in \(other); build names must differ across the templates of one run")
            }
            seen[node.build.name] = node.template.path
        }
        return ordered
    }

    /// The build with its source turned into the parent's finished output image.
    /// `parent` is the parent's build as it ran (itself resolved).
    public static func resolved(_ node: BuildNode, parent: BuildSpec) -> BuildSpec {
        var build = node.build
        guard let output = node.parentOutput else { return build }
        build.source = .image(path: parent.outputDirectory + "/" + ExportNaming.fileName(build: parent.name, output: output))
        // Seeding follows the image's origin: a chain rooted in a Kiln bootstrap takes credentials.
        if build.seed == .auto, parent.seed == .credentials || SeedPlan.choose(.auto, source: parent.source) == .credentials {
            build.seed = .credentials
        }
        return build
    }
}
