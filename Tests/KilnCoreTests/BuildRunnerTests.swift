import Foundation
import KilnCore
import KilnTemplate
import KilnTestSupport
import Testing

/// A temporary directory holding the work root and the output parent of one test build.
struct Sandbox {
    let root: String
    init() throws {
        root = NSTemporaryDirectory() + "kiln-core-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/work", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/out", withIntermediateDirectories: true)
    }
    var workRoot: String { root + "/work" }
    var output: String { root + "/out/web" }
    func remove() { try? FileManager.default.removeItem(atPath: root) }
    func contents(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    func template(_ provisioners: String = """
          - shell: echo hi
          - file: { source: /etc/hostname, destination: /tmp/hostname }
        """, extra: String = "", secrets: [(String, String)] = []) throws -> Template {
        let steps = provisioners.split(separator: "\n").map { "      " + $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: "\n")
        let text = """
        builds:
          - name: web
            source: { image: /fake/base.qcow2 }
            seed: credentials
            ssh: { timeout: 2s }
            shutdown: { command: poweroff, timeout: 5s }
            provisioners:
        \(steps)
            outputs: [qcow2, vdi]
            output_directory: \(output)
        \(extra)
        """
        do {
            return try TemplateLoader.load(text: text, path: root + "/t.yaml",
                                           options: LoadOptions(variables: secrets.map { (name: $0.0, value: $0.1) }, checkFiles: false))
        } catch {
            Issue.record("template did not load: \(error)")
            throw error
        }
    }
}

func run(_ template: Template, world: FakeWorld, sandbox: Sandbox, force: Bool = false,
         onError: OnError = .cleanup, events: EventRecorder = EventRecorder()) async throws -> BuildResult {
    let options = BuildOptions(force: force, onError: onError, workRoot: sandbox.workRoot, pollInterval: .milliseconds(1))
    let runner = BuildRunner(drivers: world.drivers(), options: options, events: events, template: template)
    let plan = BuildPlan(template.builds[0])
    // Its own task, so that a fault can cancel the build the way Ctrl-C does.
    let task = Task { try await runner.run(plan) }
    world.cancelBuild = { task.cancel() }
    return try await task.value
}

@Suite struct BuildRunnerTests {
    @Test func successfulBuildRunsStepsInOrderAndLeavesOnlyOutputs() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        world.sshFailuresBeforeSuccess = 3
        let result = try await run(try sandbox.template(), world: world, sandbox: sandbox)

        let journal = world.journal.filter { $0 != "destroy" }
        #expect(Array(journal.prefix(5)) == ["resolve", "overlay", "keys", "start", "connect"])
        #expect(journal.contains("run script") && journal.contains("upload"))
        let poweroff = try #require(journal.firstIndex(of: "run poweroff"))
        let finish = try #require(journal.firstIndex(of: "offline finish"))
        #expect(poweroff < finish)
        #expect(Set(journal.suffix(2)) == ["convert qcow2", "convert vdi"])
        #expect(world.liveDomains.isEmpty)
        #expect(sandbox.contents(sandbox.workRoot).isEmpty)
        #expect(sandbox.contents(sandbox.output) == ["SHA256SUMS", "manifest.json", "web.qcow2", "web.vdi"])
        #expect(sandbox.contents(sandbox.root + "/out") == ["web"])
        #expect(result.artifacts.map(\.name) == ["web.qcow2", "web.vdi"])

        let sums = try String(contentsOfFile: sandbox.output + "/SHA256SUMS", encoding: .utf8)
        #expect(sums.contains("  web.qcow2\n"))
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sandbox.output + "/manifest.json"))) as! [String: Any]
        let builds = manifest["builds"] as! [[String: Any]]
        #expect(builds[0]["name"] as? String == "web")
        #expect((builds[0]["files"] as! [[String: Any]]).count == 2)
        #expect(manifest["last_run_uuid"] is String)
    }

    /// The heart of "never leaves a mess": a failure at any operation unwinds everything.
    @Test func failureAtEveryStepLeavesNothing() async throws {
        let operations = try await successJournal()
        for operation in Set(operations) {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let world = FakeWorld()
            world.failAt = operation
            await #expect(throws: (any Error).self, "failure at \(operation)") {
                _ = try await run(try sandbox.template(), world: world, sandbox: sandbox)
            }
            #expect(world.liveDomains.isEmpty, "domain left after failure at \(operation)")
            #expect(sandbox.contents(sandbox.workRoot).isEmpty, "work directory left after failure at \(operation)")
            #expect(sandbox.contents(sandbox.root + "/out").isEmpty, "outputs left after failure at \(operation)")
        }
    }

    @Test func cancellationAtEveryStepLeavesNothing() async throws {
        let operations = try await successJournal()
        for operation in Set(operations) {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let world = FakeWorld()
            world.cancelAt = operation
            do {
                _ = try await run(try sandbox.template(), world: world, sandbox: sandbox)
                Issue.record("no error after cancellation at \(operation)")
            } catch let error as KilnError {
                #expect(error.code == .cancelled, "cancellation at \(operation) reported as \(error.code)")
            }
            #expect(world.liveDomains.isEmpty, "domain left after cancellation at \(operation)")
            #expect(sandbox.contents(sandbox.workRoot).isEmpty, "work directory left after cancellation at \(operation)")
            #expect(sandbox.contents(sandbox.root + "/out").isEmpty, "outputs left after cancellation at \(operation)")
        }
    }

    @Test func cleanupRunsInReverseOrder() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        world.failAt = "convert vdi"
        let events = EventRecorder()
        await #expect(throws: KilnError.self) {
            _ = try await run(try sandbox.template(), world: world, sandbox: sandbox, events: events)
        }
        let actions = events.cleanupActions
        let staging = try #require(actions.firstIndex { $0.hasPrefix("remove partial outputs") })
        let domain = try #require(actions.firstIndex { $0.hasPrefix("destroy domain") })
        let work = try #require(actions.firstIndex { $0.hasPrefix("remove work directory") })
        #expect(staging < domain && domain < work)
    }

    @Test func existingOutputIsRefusedBeforeAnythingIsCreated() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        try FileManager.default.createDirectory(atPath: sandbox.output, withIntermediateDirectories: true)
        try Data("old".utf8).write(to: URL(fileURLWithPath: sandbox.output + "/keep.txt"))
        let world = FakeWorld()
        do {
            _ = try await run(try sandbox.template(), world: world, sandbox: sandbox)
            Issue.record("expected outputExists")
        } catch let error as KilnError {
            #expect(error.code == .outputExists)
            #expect(error.code.exitCode == 3)
        }
        #expect(world.journal.isEmpty)
        #expect(sandbox.contents(sandbox.workRoot).isEmpty)
        #expect(sandbox.contents(sandbox.output) == ["keep.txt"])
    }

    @Test func forceReplacesOnlyAfterSuccess() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        try FileManager.default.createDirectory(atPath: sandbox.output, withIntermediateDirectories: true)
        try Data("old".utf8).write(to: URL(fileURLWithPath: sandbox.output + "/keep.txt"))

        let failing = FakeWorld()
        failing.failAt = "convert qcow2"
        await #expect(throws: KilnError.self) {
            _ = try await run(try sandbox.template(), world: failing, sandbox: sandbox, force: true)
        }
        #expect(sandbox.contents(sandbox.output) == ["keep.txt"], "a failed --force build must not touch the old outputs")

        _ = try await run(try sandbox.template(), world: FakeWorld(), sandbox: sandbox, force: true)
        #expect(sandbox.contents(sandbox.output) == ["SHA256SUMS", "manifest.json", "web.qcow2", "web.vdi"])
        #expect(sandbox.contents(sandbox.root + "/out") == ["web"])
    }

    @Test func provisionerFailureNamesTheStatusAndLocation() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        world.commandExitStatus = 7
        do {
            _ = try await run(try sandbox.template(), world: world, sandbox: sandbox)
            Issue.record("expected a provisioner failure")
        } catch let error as KilnError {
            #expect(error.code == .provisioner)
            #expect(error.message.contains("exited with status 7"))
            #expect(error.message.contains("t.yaml:"))
        }
        #expect(world.liveDomains.isEmpty)
    }

    @Test func abortKeepsTheWorkDirectoryAndSaysHowToReachIt() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        world.commandExitStatus = 1
        let events = EventRecorder()
        await #expect(throws: KilnError.self) {
            _ = try await run(try sandbox.template(), world: world, sandbox: sandbox, onError: .abort, events: events)
        }
        #expect(sandbox.contents(sandbox.workRoot).count == 1)
        #expect(world.liveDomains.count == 1)
        #expect(events.text.contains("ssh -i"))
    }

    @Test func failingShutdownCommandFallsBackToForcedPowerOff() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        world.failAt = "run poweroff"
        let events = EventRecorder()
        _ = try await run(try sandbox.template(), world: world, sandbox: sandbox, events: events)
        #expect(events.text.contains("forcing it off"))
        #expect(world.liveDomains.isEmpty)
    }

    @Test func offlineOnlyTemplateNeverBoots() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        _ = try await run(try sandbox.template("      - hostname: web01\n      - write: { path: /etc/x, content: y }"),
                          world: world, sandbox: sandbox)
        #expect(!world.journal.contains("start"))
        #expect(world.journal.contains("offline finish"))
    }

    @Test func secretsAreMaskedInEvents() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        world.commandExitStatus = 3
        let events = EventRecorder()
        let template = try sandbox.template("      - shell: echo ${var.pw}", extra: "variables:\n  pw: { sensitive: true }",
                                            secrets: [("pw", "hunter2-secret")])
        await #expect(throws: KilnError.self) {
            _ = try await run(template, world: world, sandbox: sandbox, events: events)
        }
        #expect(!events.text.contains("hunter2-secret"))
    }

    @Test func secretsAreMaskedInStepTitlesTimingsAndTheManifest() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let events = EventRecorder()
        // The file provisioner's title quotes its destination, and with it the secret.
        let template = try sandbox.template(#"      - file: { source: /etc/hostname, destination: "/tmp/${var.pw}" }"#,
                                            extra: "variables:\n  pw: { sensitive: true }", secrets: [("pw", "hunter2-secret")])
        let result = try await run(template, world: FakeWorld(), sandbox: sandbox, events: events)
        #expect(!events.text.contains("hunter2-secret"))
        #expect(events.text.contains("/tmp/<sensitive>"))
        #expect(!result.timings.map(\.step).joined().contains("hunter2-secret"))
        let manifest = try String(contentsOfFile: sandbox.output + "/manifest.json", encoding: .utf8)
        #expect(!manifest.contains("hunter2-secret"))
        #expect(manifest.contains("/tmp/<sensitive>"))
    }

    @Test func secretsAreMaskedInTheErrorTheBuildThrows() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        world.commandExitStatus = 3
        // The failure message names the script, whose path holds the secret.
        let template = try sandbox.template("      - script: /fake/${var.pw}.sh", extra: "variables:\n  pw: { sensitive: true }",
                                            secrets: [("pw", "hunter2-secret")])
        let error = await #expect(throws: KilnError.self) {
            _ = try await run(template, world: world, sandbox: sandbox)
        }
        #expect(error?.description.contains("exited with status 3") == true, "\(String(describing: error))")
        #expect(error?.description.contains("hunter2-secret") == false, "\(String(describing: error))")
    }

    @Test func redactorMasksTheJSONEscapedFormToo() {
        let redact = Redactor(["pa\"ss\\word"])
        #expect(redact(#"{"x": "pa\"ss\\word"}"#) == #"{"x": "<sensitive>"}"#)
        #expect(redact(#"raw pa"ss\word"#) == "raw <sensitive>")
    }

    private func successJournal() async throws -> [String] {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        _ = try await run(try sandbox.template(), world: world, sandbox: sandbox)
        // destroy happens during cleanup; a failing shutdown command falls back to a forced power-off.
        return world.journal.filter { $0 != "destroy" && $0 != "run poweroff" }
    }
}
