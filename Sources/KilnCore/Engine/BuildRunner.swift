import Foundation
import KilnTemplate

/// What a finished build produced.
public struct BuildResult: Sendable {
    public var build: String
    public var outputDirectory: String
    public var artifacts: [Artifact]
    public var timings: [StepTiming]
    public var accelerator: Accelerator?
}

/// Runs one build plan: each step in turn, undo registered as things are created, and on any
/// failure or cancellation the undo stack unwound in reverse (unless `--on-error=abort`).
public struct BuildRunner: Sendable {
    public var drivers: Drivers
    public var options: BuildOptions
    public var events: any EventSink
    public var template: Template

    public init(drivers: Drivers, options: BuildOptions, events: any EventSink, template: Template) {
        self.drivers = drivers
        self.options = options
        self.template = template
        self.redact = Redactor(template.secrets)
        self.events = RedactingEventSink(events, redactor: redact)
    }

    /// Masks sensitive values in what leaves the runner: events, step names in timings, the error.
    private let redact: Redactor

    public func run(_ plan: BuildPlan) async throws -> BuildResult {
        let cleanup = CleanupStack()
        let context = StepContext(plan: plan, drivers: drivers, options: options, events: events,
                                  template: template, cleanup: cleanup)
        var state = BuildState(id: Self.makeID(build: plan.build.name))
        let name = plan.build.name
        let started = ContinuousClock.now

        var failure: (any Error)?
        do {
            let existing = try context.preflight()
            try context.createWorkDirectory(&state)
            var steps = plan.steps
            var index = 0
            while index < steps.count {
                let step = steps[index]
                index += 1
                try Task.checkCancellation()
                if case .export = step { await context.storeFinalLayer(&state) }
                let stepName = redact(step.name)
                events.emit(.stepStarted(build: name, step: stepName))
                let stepStart = ContinuousClock.now
                do {
                    try await context.run(step, &state)
                    try Task.checkCancellation()
                } catch {
                    let seconds = (ContinuousClock.now - stepStart).seconds
                    let wrapped = KilnError.wrap(error, as: .internal, "\(stepName) failed")
                    events.emit(.stepFailed(build: name, step: stepName, seconds: seconds, error: wrapped.message))
                    throw wrapped
                }
                let seconds = (ContinuousClock.now - stepStart).seconds
                state.timings.append(StepTiming(step: stepName, seconds: seconds))
                events.emit(.stepFinished(build: name, step: stepName, seconds: seconds))
                switch step {
                case .resolveBase:
                    let rest = await context.resumeFromStepCache(&state)
                    if let existing {
                        try context.confirmUpToDate(existing, &state)
                        steps = Array(steps[..<index])
                    } else if let rest {
                        steps = Array(steps[..<index]) + rest
                    }
                case .provision(let spec):
                    await context.checkpoint(after: spec, &state)
                default:
                    break
                }
            }
        } catch {
            failure = redact(KilnError.wrap(error, as: .internal, "build \(name) failed"))
        }

        if let failure = failure as? KilnError, failure.code != .cancelled, options.onError == .abort,
           !state.workDirectory.isEmpty {
            events.emit(.warning(build: name, message: abortNotice(state)))
            throw failure
        }
        // After a success the undo list only releases what is no longer needed: say nothing unless it fails.
        let failed = failure != nil
        await cleanup.unwind { action, error in
            if failed || error != nil {
                events.emit(.cleanup(build: name, action: action, error: error.map { "\($0)" }))
            }
        }
        if let failure { throw failure }
        state.timings.append(StepTiming(step: "total", seconds: (ContinuousClock.now - started).seconds))
        return BuildResult(build: name, outputDirectory: plan.build.outputDirectory, artifacts: state.artifacts,
                           timings: state.timings, accelerator: state.accelerator)
    }

    private func abortNotice(_ state: BuildState) -> String {
        var lines = ["--on-error=abort: the build's resources were kept for debugging:",
                     "  work directory: \(state.workDirectory)"]
        if state.vm != nil {
            lines.append("  domain: \(state.domainName)  (virsh -c qemu:///system destroy \(state.domainName))")
        }
        if let endpoint = state.endpoint, let keys = state.keys {
            lines.append("  ssh: ssh -i \(keys.clientPrivateKeyPath) -o StrictHostKeyChecking=no -p \(endpoint.port) \(endpoint.username)@\(endpoint.host)")
        }
        lines.append("  remove them with: kiln clean")
        return lines.joined(separator: "\n")
    }

    static func makeID(build: String) -> String {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let padded = String(repeating: "0", count: 8 - suffix.count) + suffix
        return "\(build.prefix(40))-\(padded)"
    }
}

extension Duration {
    public var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
