import Foundation
import KilnTemplate

/// Everything a step needs besides the state it hands on.
struct StepContext: Sendable {
    var plan: BuildPlan
    var drivers: Drivers
    var options: BuildOptions
    var events: any EventSink
    var template: Template
    var cleanup: CleanupStack

    var build: BuildSpec { plan.build }
    var name: String { plan.build.name }

    func info(_ message: String) { events.emit(.info(build: name, message: message)) }
    func warning(_ message: String) { events.emit(.warning(build: name, message: message)) }

    func run(_ step: PlannedStep, _ state: inout BuildState) async throws {
        switch step {
        case .resolveBase(let source): try await resolveBase(source, &state)
        case .createWorkDisk(let size): try await createWorkDisk(size: size, &state)
        case .offlinePrepare(let seed, let steps): try await offlinePrepare(seed: seed, steps: steps, &state)
        case .boot: try await boot(&state)
        case .waitForSSH: try await waitForSSH(&state)
        case .provision(let spec): try await provision(spec, &state)
        case .shutdown: try await shutdown(&state)
        case .offlineFinish(let steps, let generalize): try await offlineFinish(steps: steps, generalize: generalize, &state)
        case .export(let outputs): try await export(outputs, &state)
        case .publish(let ami): try await publish(ami, &state)
        case .writeManifest: try writeManifest(&state)
        }
    }

    /// Checks that need no resources: runs before anything is created. Returns the outputs already
    /// there when they may be current (the step cache decides once the base image is known).
    func preflight() throws -> ExistingOutputs? {
        let output = build.outputDirectory
        if FileManager.default.fileExists(atPath: output), !options.force {
            guard drivers.layers != nil, let existing = ExistingOutputs.read(output, build: name) else {
                throw Self.outputExists(output)
            }
            return existing
        }
        for output in build.outputs where ExportNaming.packaged.contains(output.format) && drivers.packager == nil {
            throw KilnError(.template, "\(output.location): output format \(output.format.rawValue) is not supported by this version of kiln yet")
        }
        if let ami = build.publish?.ami, drivers.publisher == nil {
            throw KilnError(.template, "\(ami.location): publish.ami is not supported by this version of kiln yet")
        }
        return nil
    }

    static func outputExists(_ output: String) -> KilnError {
        KilnError(.outputExists, "output directory \(output) already exists",
                  hint: "pass --force to replace it once the new build is complete, or choose another --output-dir")
    }

    func createWorkDirectory(_ state: inout BuildState) throws {
        let path: String
        do {
            path = try WorkDirectory.create(root: options.workRoot, id: state.id, build: name, domain: state.domainName)
        } catch {
            throw KilnError(.internal, "cannot create the working directory under \(options.workRoot): \(error)",
                            hint: "set KILN_WORK_DIR to a writable directory")
        }
        state.workDirectory = path
        cleanup.push("remove work directory \(path)") {
            try FileManager.default.removeItem(atPath: path)
        }
    }
}
