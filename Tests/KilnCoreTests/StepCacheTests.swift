import Foundation
import KilnCore
import KilnTemplate
import KilnTestSupport
import Testing

@Suite struct StepCacheTests {
    func build(_ template: Template, _ world: FakeWorld, _ layers: FakeLayerCache, _ sandbox: Sandbox,
               events: EventRecorder = EventRecorder()) async throws -> BuildResult {
        let options = BuildOptions(force: true, workRoot: sandbox.workRoot, pollInterval: .milliseconds(1))
        let runner = BuildRunner(drivers: world.drivers(layers: layers), options: options, events: events, template: template)
        return try await runner.run(BuildPlan(template.builds[0]))
    }

    let twoShells = """
      - shell: echo one
      - shell: echo two
    """

    @Test func anUnchangedRebuildOnlyMakesTheOutputs() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let first = FakeWorld(), layers = FakeLayerCache(world: first)
        _ = try await build(try sandbox.template(twoShells), first, layers, sandbox)
        #expect(first.journal.filter { $0 == "layer store" }.count == 3)   // two steps and the finished disk
        #expect(first.journal.contains("snapshot"))

        let second = FakeWorld(), events = EventRecorder()
        _ = try await build(try sandbox.template(twoShells), second, layers, sandbox, events: events)
        #expect(!second.journal.contains("start"))
        #expect(second.journal.filter { $0.hasPrefix("run") }.isEmpty)
        #expect(second.journal.contains("convert qcow2") && second.journal.contains("convert vdi"))
        #expect(events.text.contains("only the outputs are made"))
    }

    @Test func aChangedLastStepRerunsOnlyThatStep() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let layers = FakeLayerCache(world: FakeWorld())
        _ = try await build(try sandbox.template(twoShells), FakeWorld(), layers, sandbox)

        let world = FakeWorld(), events = EventRecorder()
        let changed = try sandbox.template("""
          - shell: echo one
          - shell: echo three
        """)
        _ = try await build(changed, world, layers, sandbox, events: events)
        #expect(world.journal.contains("start"))
        #expect(world.journal.filter { $0 == "run script" }.count == 1)
        #expect(events.text.contains("resuming after shell"))
    }

    @Test func aStepMarkedCacheFalseRunsEveryTimeWithEveryStepAfterIt() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let steps = """
          - shell: echo one
          - { shell: date, cache: false }
          - shell: echo three
        """
        let layers = FakeLayerCache(world: FakeWorld())
        _ = try await build(try sandbox.template(steps), FakeWorld(), layers, sandbox)
        #expect(layers.storedDescriptions.count == 1)   // only the step before the uncached one

        let world = FakeWorld()
        _ = try await build(try sandbox.template(steps), world, layers, sandbox)
        #expect(world.journal.filter { $0 == "run script" }.count == 2)
    }

    @Test func keysFollowDefinitionsAndFileContentsNotDictionaryOrder() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let file = sandbox.root + "/payload.txt"
        try Data("v1".utf8).write(to: URL(fileURLWithPath: file))
        let base = ResolvedBase(path: "/fake/base.qcow2", format: "qcow2", virtualSize: 1 << 30, origin: "fake")
        func keys(_ provisioners: String) throws -> StepCacheKeys {
            StepCacheKeys(build: try sandbox.template(provisioners).builds[0], base: base, seed: .credentials)
        }
        let upload = "- file: { source: \(file), destination: /tmp/payload }"
        let a = try keys("- { shell: env, env: { A: '1', B: '2' } }\n" + upload)
        let b = try keys("- { shell: env, env: { B: '2', A: '1' } }\n" + upload)
        #expect(a == b)
        try Data("v2".utf8).write(to: URL(fileURLWithPath: file))
        let c = try keys("- { shell: env, env: { A: '1', B: '2' } }\n" + upload)
        #expect(c.afterProvisioner[0] == a.afterProvisioner[0])
        #expect(c.afterProvisioner[1] != a.afterProvisioner[1])
        #expect(c.final != a.final)
        let uncached = try keys("- { shell: env, cache: false }\n" + upload)
        #expect(uncached.afterProvisioner.isEmpty && uncached.final == nil)
    }
}

@Suite struct StepCacheFaultTests {
    @Test func aFailingCheckpointCostsTheCacheNotTheBuild() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld(), events = EventRecorder()
        world.failAt = "snapshot"
        let layers = FakeLayerCache(world: world)
        let options = BuildOptions(force: true, workRoot: sandbox.workRoot, pollInterval: .milliseconds(1))
        let runner = BuildRunner(drivers: world.drivers(layers: layers), options: options, events: events,
                                 template: try sandbox.template())
        let result = try await runner.run(BuildPlan(try sandbox.template().builds[0]))
        #expect(result.artifacts.count == 2)
        #expect(events.text.contains("could not keep the disk after"))
        #expect(layers.storedDescriptions.isEmpty)
        #expect(sandbox.contents(sandbox.workRoot).isEmpty)
    }

    @Test func cancellingWhileALayerIsStoredLeavesNothing() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        world.cancelAt = "layer store"
        let options = BuildOptions(workRoot: sandbox.workRoot, pollInterval: .milliseconds(1))
        let runner = BuildRunner(drivers: world.drivers(layers: FakeLayerCache(world: world)), options: options,
                                 events: EventRecorder(), template: try sandbox.template())
        let plan = BuildPlan(try sandbox.template().builds[0])
        let task = Task { try await runner.run(plan) }
        world.cancelBuild = { task.cancel() }
        await #expect(throws: (any Error).self) { try await task.value }
        #expect(world.liveDomains.isEmpty)
        #expect(sandbox.contents(sandbox.workRoot).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: sandbox.output))
    }
}

@Suite struct UpToDateOutputTests {
    @Test func currentOutputsMakeTheBuildANoOpAndChangedOnesAreRefused() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let layers = FakeLayerCache(world: FakeWorld())
        let options = BuildOptions(workRoot: sandbox.workRoot, pollInterval: .milliseconds(1))
        func build(_ template: Template, _ world: FakeWorld, _ events: EventRecorder = EventRecorder()) async throws -> BuildResult {
            try await BuildRunner(drivers: world.drivers(layers: layers), options: options, events: events, template: template)
                .run(BuildPlan(template.builds[0]))
        }
        _ = try await build(try sandbox.template(), FakeWorld())

        let world = FakeWorld(), events = EventRecorder()
        let again = try await build(try sandbox.template(), world, events)
        #expect(events.text.contains("up to date"))
        #expect(!world.journal.contains { $0.hasPrefix("convert") || $0 == "start" })
        #expect(again.artifacts.map(\.name) == ["web.qcow2", "web.vdi"])

        await #expect(throws: KilnError.self) {
            _ = try await build(try sandbox.template("- shell: echo changed"), FakeWorld())
        }
        try Data("truncated".utf8).write(to: URL(fileURLWithPath: sandbox.output + "/web.vdi"))
        await #expect(throws: KilnError.self) { _ = try await build(try sandbox.template(), FakeWorld()) }
        #expect(sandbox.contents(sandbox.workRoot).isEmpty)
    }
}
