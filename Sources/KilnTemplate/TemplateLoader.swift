import Foundation
import Yams

/// Reads a template, applies the command line to it, and checks all of it before anything is built.
public enum TemplateLoader {
    static let topLevelKeys = ["variables", "builds", "defaults"]

    /// Loads the template at `path` (as the user wrote it; diagnostics show it that way).
    public static func load(path: String, options: LoadOptions) throws(TemplateErrors) -> Template {
        let sink = DiagnosticSink()
        let absolute = absolutePath(path, in: options.workingDirectory)
        guard let bytes = YAMLDocument.read(path: absolute, displayPath: path, field: path, sink: sink) else {
            throw TemplateErrors(diagnostics: sink.diagnostics)
        }
        return try load(bytes: bytes, path: path, absolutePath: absolute, options: options, sink: sink)
    }

    /// Loads a template from its text, as if read from `path` (for tests and for standard input).
    public static func load(text: String, path: String, options: LoadOptions) throws(TemplateErrors) -> Template {
        try load(bytes: Array(text.utf8), path: path, absolutePath: absolutePath(path, in: options.workingDirectory),
                 options: options, sink: DiagnosticSink())
    }

    /// Loads a template from raw bytes (which may not be UTF-8), as if read from `path`.
    public static func load(bytes: [UInt8], path: String, options: LoadOptions) throws(TemplateErrors) -> Template {
        try load(bytes: bytes, path: path, absolutePath: absolutePath(path, in: options.workingDirectory),
                 options: options, sink: DiagnosticSink())
    }

    static func absolutePath(_ path: String, in directory: String) -> String {
        let joined = path.hasPrefix("/") ? path : directory + "/" + path
        return URL(fileURLWithPath: joined).standardizedFileURL.path
    }

    private static func load(bytes: [UInt8], path: String, absolutePath: String, options: LoadOptions,
                             sink: DiagnosticSink) throws(TemplateErrors) -> Template {
        if bytes.count > YAMLDocument.maximumBytes {
            sink.report(SourceLocation(file: path, line: 1, column: 1), "file",
                        "the file is larger than the limit of 10 MiB (\(YAMLDocument.maximumBytes) bytes)")
            throw TemplateErrors(diagnostics: sink.diagnostics)
        }
        guard let root = YAMLDocument.mapping(bytes, file: path, sink: sink) else {
            throw TemplateErrors(diagnostics: sink.diagnostics)
        }
        let directory = (absolutePath as NSString).deletingLastPathComponent
        let interpolator = Interpolator(variables: [:], environment: options.environment,
                                        timestamp: String(Int64(options.now.timeIntervalSince1970.rounded(.down))),
                                        templateDirectory: directory)
        let decoding = Decoding(file: path, directory: directory, sink: sink, options: options, interpolator: interpolator)
        let template = decodeTemplate(root, bytes: bytes, path: absolutePath, decoding: decoding)
        guard sink.isEmpty, let template else {
            if sink.isEmpty { sink.report(nil, "template", "could not be loaded") }
            throw TemplateErrors(diagnostics: sink.diagnostics)
        }
        return template
    }

    private static func decodeTemplate(_ root: Node, bytes: [UInt8], path: String, decoding: Decoding) -> Template? {
        guard let top = decoding.fields(root, "", allowed: topLevelKeys) else { return nil }
        let options = decoding.options

        let declarations = decoding.variableDeclarations(top["variables"])
        let overrides = decoding.variableOverrides(for: declarations)
        let values = VariableResolver(declarations: declarations, overrides: overrides, decoding: decoding).resolve()
        decoding.interpolator.variables = values

        let defaults = decoding.buildDefaults(top["defaults"])
        guard let buildsEntry = decoding.required(top, "builds"), let heads = decoding.buildHeads(buildsEntry) else {
            return nil
        }
        guard !heads.isEmpty else { return nil }
        let selected = Set(BuildFilter.select(heads.map(\.name), only: options.only, except: options.except, sink: decoding.sink))
        var builds: [BuildSpec] = []
        for head in heads where selected.contains(head.name) {
            if let build = decoding.build(head, defaults: defaults) { builds.append(build) }
        }
        applyOutputDirectoryOverride(to: &builds, options: options)
        checkOutputDirectoriesDiffer(builds, decoding: decoding)

        let variables = declarations.map { declaration in
            VariableSpec(name: declaration.name, type: declaration.type, description: declaration.description,
                         sensitive: declaration.sensitive, value: values[declaration.name] ?? "",
                         location: declaration.location)
        }
        let secrets = Set(variables.filter { $0.sensitive && !$0.value.isEmpty }.map(\.value))
        guard decoding.sink.isEmpty else { return nil }
        let hash = ContentHash.compute(template: bytes, variables: values, files: decoding.referencedFiles,
                                       identifiedOnly: decoding.identifiedFiles)
        return Template(path: path, directory: decoding.directory, variables: variables, builds: builds,
                        secrets: secrets, contentHash: hash)
    }

    /// `--output-dir` replaces every output directory; with several builds each gets a subdirectory.
    private static func applyOutputDirectoryOverride(to builds: inout [BuildSpec], options: LoadOptions) {
        guard let override = options.outputDirectoryOverride else { return }
        let base = absolutePath(override, in: options.workingDirectory)
        for index in builds.indices {
            builds[index].outputDirectory = builds.count > 1 ? base + "/" + builds[index].name : base
        }
    }

    private static func checkOutputDirectoriesDiffer(_ builds: [BuildSpec], decoding: Decoding) {
        var owners: [String: String] = [:]
        for build in builds {
            let directory = build.outputDirectory.hasSuffix("/") ? String(build.outputDirectory.dropLast()) : build.outputDirectory
            if let other = owners[directory] {
                decoding.sink.report(build.location, "builds.\(build.name).output_directory",
                                     "'\(directory)' is also the output directory of build '\(other)'; give each build its own")
            } else {
                owners[directory] = build.name
            }
        }
    }
}
