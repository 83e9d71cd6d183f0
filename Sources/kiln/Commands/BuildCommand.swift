import ArgumentParser
import Foundation
import KilnCore
import KilnTemplate

extension OnError: ExpressibleByArgument {}

struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build the images a template describes.",
        discussion: """
            Each build: base image -> qcow2 overlay -> seed -> boot (libvirt) -> provision over SSH -> \
            shutdown -> generalize (libguestfs) -> export (qemu-img) -> checksums and manifest. \
            A failed or interrupted build leaves nothing behind unless --on-error=abort.
            """)

    @OptionGroup var template: TemplateOptions

    @Argument(help: ArgumentHelp("More templates to build in the same run (the template flags apply to each).", valueName: "template"),
              completion: .file(extensions: ["yaml", "yml", "json"]))
    var moreTemplates: [String] = []

    @OptionGroup var output: OutputOptions

    @Flag(name: .long, help: "Replace an existing output directory (only once the new outputs are complete).")
    var force = false

    @Flag(name: .customLong("no-cache"), help: "Run every step; neither reuse nor keep step cache layers (also KILN_NO_CACHE=1).")
    var noCache = false

    @Option(name: .long, help: "Run up to N builds at once (bounded by host memory too); builds that start from another wait for it.")
    var parallel: Int = 1

    @Option(name: .customLong("on-error"), help: "cleanup: undo everything on failure; abort: keep the domain and work disk for debugging.")
    var onError: OnError = .cleanup

    @Option(name: .customLong("output-dir"), help: "Write outputs here instead of the template's output_directory.",
            completion: .directory)
    var outputDir: String?

    @Option(name: .customLong("connect"),
            help: ArgumentHelp("libvirt URI to run the builds on, instead of machine.connect (e.g. qemu+tcp://host/system). "
                               + "Repeatable: the builds are spread over the targets round-robin.", valueName: "uri"))
    var connect: [String] = []

    func validate() throws {
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
        if outputDir != nil, !moreTemplates.isEmpty {
            throw ValidationError("--output-dir needs a single template (each build of several would write to it)")
        }
    }

    func run() async throws {
        let nodes = try loadGraph()
        let renderer = ConsoleRenderer(json: output.json, quiet: output.quiet)
        let options = BuildOptions(force: force, onError: onError, kilnVersion: Kiln.version)
        let stepCache = !noCache && ProcessInfo.processInfo.environment["KILN_NO_CACHE"].map { $0.isEmpty || $0 == "0" } ?? true
        let results = ResultBox()
        let byID = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0) })
        let ran = RanBuilds()

        let targets = HypervisorTargets(connect)

        let work = Task<Void, any Error> {
            let builds = nodes.map(\.build)
            let connections = (["qemu:///system"] + targets.all(builds)).reduce(into: [String]()) {
                if !$0.contains($1) { $0.append($1) }
            }
            let janitor = await Janitor.clean(hypervisors: connections.map(DriverFactory.hypervisor(uri:)), workRoot: options.workRoot)
            for line in janitor.removed {
                renderer.line("kiln: cleaned up after an earlier killed run: \(line)", toStandardError: renderer.isJSON)
            }
            if parallel > 1, nodes.count > 1 {
                renderer.line("kiln: \(nodes.count) builds, up to \(parallel) at once", toStandardError: renderer.isJSON)
            }
            let position = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1.id, $0) })
            let queued = nodes.map { QueuedBuild(id: $0.id, after: $0.parent, memoryMiB: $0.memoryMiB) }
            try await BuildQueue.run(queued, parallel: parallel, memoryBudgetMiB: BuildQueue.hostMemoryBudgetMiB(),
                                     skipped: { build, reason in
                guard let node = byID[build.id] else { return }
                results.append(node.build.name, .failure(KilnError(.internal, "skipped: \(reason)")))
            }) { queuedBuild in
                guard let node = byID[queuedBuild.id] else { return false }
                var build = node.build
                if let parentID = node.parent, let parent = ran.build(parentID) {
                    build = BuildGraph.resolved(node, parent: parent)
                }
                let uri = targets.uri(forBuildAt: position[node.id] ?? 0, build)
                let runner = BuildRunner(drivers: DriverFactory.drivers(for: build, uri: uri, stepCache: stepCache),
                                         options: options, events: renderer, template: node.template)
                do {
                    let result = try await runner.run(BuildPlan(build))
                    ran.record(node.id, build)
                    results.append(build.name, .success(result))
                    return true
                } catch {
                    results.append(build.name, .failure(error))
                    if error is CancellationError || (error as? KilnError)?.code == .cancelled { throw error }
                    return false
                }
            }
        }
        let signals = SignalCancellation(cancelling: work) { name, count in
            renderer.line(count == 1 ? "kiln: \(name) received: stopping and cleaning up (send it twice more to exit at once)"
                                     : "kiln: \(name) received again: still cleaning up", toStandardError: true)
        }
        do {
            try await work.value
        } catch {
            withExtendedLifetime(signals) {}
            throw Failure.exit(signals.received ? CancellationError() : error, renderer: renderer)
        }
        withExtendedLifetime(signals) {}
        try summarize(results.all, renderer: renderer)
    }

    /// Every template given, and the builds they start from; exits 2 on any template error.
    private func loadGraph() throws -> [BuildNode] {
        var roots: [Template] = []
        for path in [template.template] + moreTemplates {
            var options = template
            options.template = path
            roots.append(try options.load(outputDirectory: outputDir))
        }
        do {
            return try BuildGraph.make(roots) { path in
                // A template pulled in as a parent: all its builds, its own defaults and the environment.
                var options = template
                options.template = path
                options.only = []
                options.except = []
                if !roots.contains(where: { $0.path == path }) {
                    options.variables = []
                    options.variableFiles = []
                }
                return try options.load(outputDirectory: nil)
            }
        } catch let error as KilnError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
    }

    private func summarize(_ results: [(String, Result<BuildResult, any Error>)], renderer: ConsoleRenderer) throws {
        var worst: ExitCode?
        for (name, result) in results {
            switch result {
            case .success(let build) where renderer.isJSON:
                // --json keeps stdout one JSON object per line, the summary included.
                var summary: [String: Any] = [
                    "event": "build_finished", "build": name, "output_directory": build.outputDirectory,
                    "artifacts": build.artifacts.map { ["name": $0.name, "size": $0.size, "sha256": $0.sha256] as [String: Any] },
                ]
                if let total = build.timings.last { summary["seconds"] = total.seconds }
                if let accelerator = build.accelerator { summary["accelerator"] = accelerator.rawValue }
                renderer.json(summary)
            case .success(let build):
                let total = build.timings.last.map { String(format: "%.1f s", $0.seconds) } ?? "?"
                renderer.line("==> \(name): finished in \(total)" + (build.accelerator.map { " (\($0.rawValue))" } ?? "")
                              + "; artifacts in \(build.outputDirectory):")
                for artifact in build.artifacts {
                    renderer.line("    \(artifact.name)  \(ByteFormat.string(artifact.size))  sha256:\(artifact.sha256.prefix(16))…")
                }
            case .failure(let error):
                renderer.line("==> \(name): FAILED", toStandardError: true)
                let code = Failure.exit(error, renderer: renderer)
                if worst == nil || code.rawValue > worst!.rawValue { worst = code }
            }
        }
        if let worst { throw worst }
    }
}

/// The builds that finished, as they ran, for the builds that start from their output.
final class RanBuilds: @unchecked Sendable {
    private let lock = NSLock()
    private var builds: [String: BuildSpec] = [:]
    func record(_ id: String, _ build: BuildSpec) { lock.withLock { builds[id] = build } }
    func build(_ id: String) -> BuildSpec? { lock.withLock { builds[id] } }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [(String, Result<BuildResult, any Error>)] = []
    func append(_ name: String, _ result: Result<BuildResult, any Error>) { lock.withLock { results.append((name, result)) } }
    var all: [(String, Result<BuildResult, any Error>)] { lock.withLock { results } }
}
