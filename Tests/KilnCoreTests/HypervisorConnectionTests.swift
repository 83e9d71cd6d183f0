import Foundation
import KilnCore
import KilnTemplate
import KilnTestSupport
import Testing

/// The engine's side of remote hypervisors and lost connections, with the fakes.
@Suite struct HypervisorConnectionTests {
    @Test func theGuestRunIsFinishedAfterPowerOffAndBeforeOfflineWork() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        let events = EventRecorder()
        _ = try await run(try sandbox.template(), world: world, sandbox: sandbox, events: events)
        let journal = world.journal
        let poweroff = try #require(journal.firstIndex(of: "run poweroff"))
        let finish = try #require(journal.firstIndex(of: "finish"))
        let offline = try #require(journal.firstIndex(of: "offline finish"))
        #expect(poweroff < finish && finish < offline)
        #expect(events.text.contains("on fake:///system"), "the output says where the guest ran")
        #expect(events.text.contains("fake disk retrieved"))
    }

    @Test func aGuestThatWillNotStopIsFinishedForcingItOff() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        world.failAt = "run poweroff"
        _ = try await run(try sandbox.template(), world: world, sandbox: sandbox)
        #expect(world.journal.contains("finish forced"))
        #expect(world.liveDomains.isEmpty)
    }

    @Test func aLostConnectionWhileWaitingForSSHStopsTheBuild() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        world.loseConnectionAt = "start"
        world.sshFailuresBeforeSuccess = 1_000_000
        let error = await #expect(throws: KilnError.self) {
            _ = try await run(try sandbox.template(), world: world, sandbox: sandbox)
        }
        #expect(error?.code == .hypervisor)
        #expect(error?.message.contains("lost the connection to libvirt at fake:///system") == true, "\(String(describing: error))")
        #expect(world.liveDomains.isEmpty)
        #expect(sandbox.contents(sandbox.workRoot).isEmpty)
        #expect(sandbox.contents(sandbox.root + "/out").isEmpty)
    }

    @Test func aLostConnectionNoticedAtShutdownStopsTheBuild() async throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let world = FakeWorld()
        world.loseConnectionAt = "run script"
        let error = await #expect(throws: KilnError.self) {
            _ = try await run(try sandbox.template(), world: world, sandbox: sandbox)
        }
        #expect(error?.message.contains("lost the connection to libvirt") == true, "\(String(describing: error))")
        #expect(!world.journal.contains("offline finish"))
        #expect(world.liveDomains.isEmpty)
        #expect(sandbox.contents(sandbox.workRoot).isEmpty)
    }
}

@Suite struct HypervisorTargetsTests {
    func builds(_ connects: [String?]) throws -> [BuildSpec] {
        let entries = connects.enumerated().map { index, connect in
            """
              - name: b\(index)
                source: { image: /fake/base.qcow2 }
                outputs: [qcow2]
            \(connect.map { "    machine: { connect: \"\($0)\" }" } ?? "")
            """
        }.joined(separator: "\n")
        let template = try TemplateLoader.load(text: "builds:\n" + entries, path: "/tmp/t.yaml",
                                               options: LoadOptions(checkFiles: false))
        return template.builds
    }

    @Test func withoutTargetsEachBuildUsesItsOwnConnection() throws {
        let specs = try builds([nil, "qemu+tcp://a/system"])
        let targets = HypervisorTargets([])
        #expect(targets.uri(forBuildAt: 0, specs[0]) == "qemu:///system")
        #expect(targets.uri(forBuildAt: 1, specs[1]) == "qemu+tcp://a/system")
        #expect(targets.all(specs) == ["qemu:///system", "qemu+tcp://a/system"])
    }

    @Test func targetsOverrideAndTakeBuildsRoundRobin() throws {
        let specs = try builds([nil, "qemu+tcp://ignored/system", nil, nil, nil])
        let targets = HypervisorTargets(["qemu+tcp://a/system", "qemu+tcp://b/system"])
        #expect(specs.indices.map { targets.uri(forBuildAt: $0, specs[$0]) }
                == ["qemu+tcp://a/system", "qemu+tcp://b/system", "qemu+tcp://a/system", "qemu+tcp://b/system", "qemu+tcp://a/system"])
        #expect(targets.all(specs) == ["qemu+tcp://a/system", "qemu+tcp://b/system"])
        #expect(targets.all(Array(specs.prefix(1))) == ["qemu+tcp://a/system"])
    }
}

@Suite struct JanitorStorageTests {
    /// A hypervisor with storage leftovers and nothing else.
    final class StorageHypervisor: Hypervisor, @unchecked Sendable {
        let storage: [StorageLeftover]
        private let lock = NSLock()
        private var removedNames: [String] = []
        init(_ storage: [StorageLeftover]) { self.storage = storage }
        var removed: [String] { lock.withLock { removedNames } }

        func chooseAccelerator(_ choice: AcceleratorChoice) async throws -> (Accelerator, reason: String) { (.tcg, "") }
        func start(_ config: VMConfig) async throws -> any VirtualMachine { throw KilnError(.internal, "not here") }
        func kilnDomains() async throws -> [Leftover] { [] }
        func destroyDomain(named name: String) async throws {}
        func kilnStorage() async throws -> [StorageLeftover] { storage }
        func removeStorage(named name: String) async throws { lock.withLock { removedNames.append(name) } }
    }

    @Test func removesTheStorageOfDeadOwnersOnEveryConnection() async throws {
        let first = StorageHypervisor([StorageLeftover(name: "kiln-a-1", ownerPID: 1234, ownerAlive: false),
                                       StorageLeftover(name: "kiln-b-2", ownerPID: getpid(), ownerAlive: true)])
        let second = StorageHypervisor([StorageLeftover(name: "kiln-c-3", ownerPID: nil, ownerAlive: false)])
        let root = NSTemporaryDirectory() + "kiln-janitor-\(UUID().uuidString.prefix(8))"
        let report = await Janitor.clean(hypervisors: [first, second], workRoot: root)
        #expect(first.removed == ["kiln-a-1"])
        #expect(second.removed == ["kiln-c-3"])
        #expect(report.removed.contains("storage pool kiln-a-1 (owner pid 1234 is gone)"))
        #expect(report.removed.contains("storage pool kiln-c-3 (no owner record)"))
        #expect(report.failed.isEmpty)
    }
}
