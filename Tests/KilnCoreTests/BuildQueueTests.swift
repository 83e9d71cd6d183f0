import Foundation
import KilnCore
import KilnTemplate
import Testing

/// Records how many builds ran at once and in which order they started.
final class QueueProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var running = 0
    private(set) var peak = 0
    private(set) var started: [String] = []
    private(set) var skipped: [String] = []
    func begin(_ id: String) { lock.withLock { running += 1; peak = max(peak, running); started.append(id) } }
    func end() { lock.withLock { running -= 1 } }
    func skip(_ id: String) { lock.withLock { skipped.append(id) } }
}

@Suite struct BuildQueueTests {
    func run(_ builds: [QueuedBuild], parallel: Int, budget: Int? = nil, failing: Set<String> = []) async throws -> QueueProbe {
        let probe = QueueProbe()
        try await BuildQueue.run(builds, parallel: parallel, memoryBudgetMiB: budget, skipped: { build, _ in probe.skip(build.id) }) { build in
            probe.begin(build.id)
            try await Task.sleep(for: .milliseconds(30))
            probe.end()
            return !failing.contains(build.id)
        }
        return probe
    }

    @Test func runsUpToNAtOnce() async throws {
        let builds = (1...6).map { QueuedBuild(id: "b\($0)", memoryMiB: 256) }
        #expect(try await run(builds, parallel: 1).peak == 1)
        #expect(try await run(builds, parallel: 3).peak == 3)
    }

    @Test func hostMemoryBoundsConcurrencyButOneBuildAlwaysRuns() async throws {
        let builds = (1...4).map { QueuedBuild(id: "b\($0)", memoryMiB: 1024) }
        #expect(try await run(builds, parallel: 4, budget: 2048).peak == 2)
        let big = [QueuedBuild(id: "huge", memoryMiB: 64 * 1024)]
        #expect(try await run(big, parallel: 4, budget: 2048).started == ["huge"])
    }

    @Test func aChildWaitsForItsParentAndIsSkippedWhenItFails() async throws {
        let builds = [QueuedBuild(id: "child", after: "base", memoryMiB: 256), QueuedBuild(id: "base", memoryMiB: 256),
                      QueuedBuild(id: "grandchild", after: "child", memoryMiB: 256)]
        let ok = try await run(builds, parallel: 4)
        #expect(ok.started == ["base", "child", "grandchild"])
        let failed = try await run(builds, parallel: 4, failing: ["base"])
        #expect(failed.started == ["base"])
        #expect(Set(failed.skipped) == ["child", "grandchild"])
    }

    @Test func aCancellationStopsTheQueue() async throws {
        let builds = (1...4).map { QueuedBuild(id: "b\($0)", memoryMiB: 256) }
        let probe = QueueProbe()
        await #expect(throws: CancellationError.self) {
            try await BuildQueue.run(builds, parallel: 1, memoryBudgetMiB: nil, skipped: { _, _ in }) { build in
                probe.begin(build.id)
                probe.end()
                if build.id == "b2" { throw CancellationError() }
                return true
            }
        }
        #expect(probe.started == ["b1", "b2"])
    }
}

@Suite struct BuildGraphTests {
    func load(_ text: String, at path: String) throws -> Template {
        try TemplateLoader.load(text: text, path: path, options: LoadOptions(checkFiles: false))
    }

    func templates(_ files: [String: String]) -> (String) throws -> Template {
        { path in try self.load(files[path] ?? "", at: path) }
    }

    @Test func parentsComeFirstAndAreBuiltEvenWhenOnlyTheChildIsAsked() throws {
        let base = """
        builds:
          - { name: base, source: { image: /fake/base.qcow2 }, outputs: [vdi, qcow2] }
        """
        let app = """
        builds:
          - { name: app, source: { build: /t/base.yaml#base }, outputs: [qcow2] }
          - { name: worker, source: { build: app }, outputs: [raw] }
        """
        let nodes = try BuildGraph.make([try load(app, at: "/t/app.yaml")], loadTemplate: templates(["/t/base.yaml": base]))
        #expect(nodes.map(\.build.name) == ["base", "app", "worker"])
        #expect(nodes.map(\.requested) == [false, true, true])
        #expect(nodes[1].parent == "/t/base.yaml#base" && nodes[1].parentOutput?.format == .qcow2)
        let resolved = BuildGraph.resolved(nodes[1], parent: nodes[0].build)
        #expect(resolved.source == .image(path: nodes[0].build.outputDirectory + "/base.qcow2"))
    }

    @Test func badReferencesAreTemplateErrors() throws {
        let cases: [(String, String)] = [
            ("builds:\n  - { name: a, source: { build: b }, outputs: [qcow2] }\n  - { name: b, source: { build: a }, outputs: [qcow2] }\n", "cycle"),
            ("builds:\n  - { name: a, source: { build: nope }, outputs: [qcow2] }\n", "has no build 'nope' (it has: a)"),
            ("builds:\n  - { name: a, source: { image: /x.qcow2 }, outputs: [ova] }\n  - { name: b, source: { build: a }, outputs: [qcow2] }\n",
             "makes no disk image to start from"),
        ]
        for (text, expected) in cases {
            let template = try load(text, at: "/t/x.yaml")
            #expect {
                _ = try BuildGraph.make([template], loadTemplate: templates(["/t/x.yaml": text]))
            } throws: { error in
                guard let error = error as? KilnError else { return false }
                return error.code == .template && error.message.contains(expected) && error.message.contains("/t/x.yaml:")
            }
        }
    }
}
