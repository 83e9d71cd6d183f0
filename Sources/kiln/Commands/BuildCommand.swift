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
    @OptionGroup var output: OutputOptions

    @Flag(name: .long, help: "Replace an existing output directory (only once the new outputs are complete).")
    var force = false

    @Option(name: .customLong("on-error"), help: "cleanup: undo everything on failure; abort: keep the domain and work disk for debugging.")
    var onError: OnError = .cleanup

    @Option(name: .customLong("output-dir"), help: "Write outputs here instead of the template's output_directory.",
            completion: .directory)
    var outputDir: String?

    @Option(name: .customLong("connect"),
            help: ArgumentHelp("libvirt URI to run the builds on, instead of machine.connect (e.g. qemu+tcp://host/system). "
                               + "Repeatable: the builds are spread over the targets round-robin.", valueName: "uri"))
    var connect: [String] = []

    func run() async throws {
        let loaded = try template.load(outputDirectory: outputDir)
        let renderer = ConsoleRenderer(json: output.json, quiet: output.quiet)
        let options = BuildOptions(force: force, onError: onError, kilnVersion: Kiln.version)
        let results = ResultBox()

        let targets = HypervisorTargets(connect)

        let work = Task<Void, any Error> {
            let connections = (["qemu:///system"] + targets.all(loaded.builds)).reduce(into: [String]()) {
                if !$0.contains($1) { $0.append($1) }
            }
            let janitor = await Janitor.clean(hypervisors: connections.map(DriverFactory.hypervisor(uri:)), workRoot: options.workRoot)
            for line in janitor.removed { renderer.line("kiln: cleaned up after an earlier killed run: \(line)") }
            for (index, build) in loaded.builds.enumerated() {
                try Task.checkCancellation()
                let runner = BuildRunner(drivers: DriverFactory.drivers(for: build, uri: targets.uri(forBuildAt: index, build)),
                                         options: options, events: renderer, template: loaded)
                do {
                    results.append(build.name, .success(try await runner.run(BuildPlan(build))))
                } catch {
                    results.append(build.name, .failure(error))
                    if error is CancellationError || (error as? KilnError)?.code == .cancelled { throw error }
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

    private func summarize(_ results: [(String, Result<BuildResult, any Error>)], renderer: ConsoleRenderer) throws {
        var worst: ExitCode?
        for (name, result) in results {
            switch result {
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

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [(String, Result<BuildResult, any Error>)] = []
    func append(_ name: String, _ result: Result<BuildResult, any Error>) { lock.withLock { results.append((name, result)) } }
    var all: [(String, Result<BuildResult, any Error>)] { lock.withLock { results } }
}
