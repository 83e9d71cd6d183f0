import Foundation
import KilnCore
import KilnTemplate

/// An ordered record of what the fakes were asked to do, with optional fault injection:
/// `failAt` makes the named operation throw, `cancelAt` cancels the build's task there.
public final class FakeWorld: @unchecked Sendable {
    private let lock = NSLock()
    private var log: [String] = []
    private var runningDomains: Set<String> = []
    public var failAt: String?
    public var cancelAt: String?
    /// After this operation, the hypervisor connection counts as lost (libvirtd restarted).
    public var loseConnectionAt: String?
    private var connectionLost = false
    /// Connection attempts that fail before the guest "answers".
    public var sshFailuresBeforeSuccess = 0
    public var commandExitStatus: Int32 = 0
    /// Cancels the build under test (set by the test; the operation that hits `cancelAt` calls it).
    public var cancelBuild: (@Sendable () -> Void)?

    public init() {}

    public var journal: [String] { lock.withLock { log } }
    public var liveDomains: Set<String> { lock.withLock { runningDomains } }

    /// Records an operation, then applies any fault planned for it.
    public func record(_ operation: String) throws {
        lock.withLock {
            log.append(operation)
            if operation == loseConnectionAt { connectionLost = true }
        }
        if operation == failAt { throw KilnError(.internal, "injected failure at \(operation)") }
        if operation == cancelAt {
            cancelBuild?()
            withUnsafeCurrentTask { $0?.cancel() }
            throw CancellationError()
        }
    }

    func domainStarted(_ name: String) { lock.withLock { _ = runningDomains.insert(name) } }
    func domainStopped(_ name: String) { lock.withLock { _ = runningDomains.remove(name) } }
    func isRunning(_ name: String) -> Bool { lock.withLock { runningDomains.contains(name) } }
    var isConnectionLost: Bool { lock.withLock { connectionLost } }

    func nextSSHAttempt() -> Bool {
        lock.withLock {
            if sshFailuresBeforeSuccess > 0 {
                sshFailuresBeforeSuccess -= 1
                return false
            }
            return true
        }
    }

    /// Every fake driver, sharing this world.
    public func drivers(layers: (any LayerCache)? = nil) -> Drivers {
        Drivers(bases: FakeBases(world: self), disks: FakeDisks(world: self), hypervisor: FakeHypervisor(world: self),
                guests: FakeGuests(world: self), offline: FakeOffline(world: self), keys: FakeKeys(world: self),
                layers: layers)
    }
}

public struct FakeBases: BaseImageResolver {
    let world: FakeWorld
    public func resolve(_ source: SourceSpec, build: String, events: any EventSink) async throws -> ResolvedBase {
        try world.record("resolve")
        return ResolvedBase(path: "/fake/base.qcow2", format: "qcow2", virtualSize: 1 << 30, origin: "fake base")
    }
}

public struct FakeDisks: DiskTool {
    let world: FakeWorld
    public func info(_ path: String) async throws -> DiskInfo {
        DiskInfo(format: "qcow2", virtualSize: 1 << 30, actualSize: 1 << 20)
    }
    public func createOverlay(at path: String, base: String, baseFormat: String, size: UInt64?) async throws {
        try world.record("overlay")
        try Data("overlay".utf8).write(to: URL(fileURLWithPath: path))
    }
    public func convert(source: String, to destination: String, output: OutputSpec,
                        progress: @escaping @Sendable (Double) -> Void) async throws {
        try Data("partial".utf8).write(to: URL(fileURLWithPath: destination))
        try world.record("convert \(output.format.rawValue)")
        progress(1)
        try Data("converted \(output.format.rawValue)".utf8).write(to: URL(fileURLWithPath: destination))
    }
}

public struct FakeHypervisor: Hypervisor {
    let world: FakeWorld
    public func chooseAccelerator(_ choice: AcceleratorChoice) async throws -> (Accelerator, reason: String) {
        (.tcg, "tcg: fake")
    }
    public func start(_ config: VMConfig) async throws -> any VirtualMachine {
        try world.record("start")
        world.domainStarted(config.name)
        return FakeVM(world: world, name: config.name)
    }
    public func kilnDomains() async throws -> [Leftover] { [] }
    public func destroyDomain(named name: String) async throws { world.domainStopped(name) }
}

public struct FakeVM: VirtualMachine {
    let world: FakeWorld
    public let name: String
    public func sshEndpoint() async throws -> (host: String, port: Int) { ("127.0.0.1", 2222) }
    public func state() async throws -> VMState {
        if world.isConnectionLost {
            let lost = HypervisorConnectionLost(uri: "fake:///system", detail: "End of file while reading data")
            throw KilnError(.hypervisor, lost.description, cause: lost)
        }
        return world.isRunning(name) ? .running : .gone
    }
    public func requestShutdown() async throws {
        try world.record("acpi shutdown")
        world.domainStopped(name)
    }
    public func destroy() async throws {
        world.domainStopped(name)
        try? world.record("destroy")
    }
    public func redirectDiskWrites(to overlay: String) async throws {
        try world.record("snapshot")
        try Data("overlay".utf8).write(to: URL(fileURLWithPath: overlay))
    }
    public var placement: String? { "domain \(name) on fake:///system" }
    public func finish(forcingOff: Bool) async throws -> String? {
        if forcingOff { world.domainStopped(name) }
        try world.record(forcingOff ? "finish forced" : "finish")
        return "fake disk retrieved"
    }
}

public struct FakeGuests: GuestConnector {
    let world: FakeWorld
    public func connect(_ endpoint: GuestEndpoint) async throws -> any GuestShell {
        guard world.nextSSHAttempt() else { throw KilnError(.ssh, "connection refused") }
        try world.record("connect")
        return FakeShell(world: world)
    }
}

public struct FakeShell: GuestShell {
    let world: FakeWorld
    public func run(_ command: String, output: @escaping @Sendable (BuildEvent.OutputStream, String) -> Void) async throws -> Int32 {
        let short = command.hasPrefix("export") || command.contains("kiln_status") ? "script" : command
        try world.record("run \(short)")
        if command.contains("poweroff") {
            for name in world.liveDomains { world.domainStopped(name) }
            throw GuestDisconnected()
        }
        if command.contains("boot_id") {
            output(.stdout, UUID().uuidString)
            return 0
        }
        output(.stdout, "ok")
        return command.contains("kiln_status") ? world.commandExitStatus : 0
    }
    public func upload(file: String, to guestPath: String, mode: Int?) async throws {
        try world.record("upload")
    }
    public func close() async {}
}

public struct FakeOffline: OfflineDiskWorker {
    let world: FakeWorld
    public func prepare(disk: String, seed: SeedMaterial?, steps: [ProvisionerKind], events: any EventSink,
                        build: String) async throws -> OfflineReport {
        try world.record("offline prepare")
        return OfflineReport()
    }
    public func finish(disk: String, steps: [ProvisionerKind], generalize: GeneralizeSpec, seed: SeedMaterial?,
                       events: any EventSink, build: String) async throws -> OfflineReport {
        try world.record("offline finish")
        return OfflineReport()
    }
}

public struct FakeKeys: KeyGenerator {
    let world: FakeWorld
    public func generate(in directory: String) throws -> BuildKeys {
        try world.record("keys")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let path = directory + "/id_ed25519"
        try Data("fake private key".utf8).write(to: URL(fileURLWithPath: path))
        return BuildKeys(clientPrivateKeyPath: path, authorizedKeyLine: "ssh-ed25519 AAAAfake kiln",
                         hostPrivateKeyOpenSSH: "fake host key", hostPublicKeyLine: "ssh-ed25519 AAAAhost")
    }
}

/// Collects events for assertions.
public final class EventRecorder: EventSink, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [BuildEvent] = []
    public init() {}
    public func emit(_ event: BuildEvent) { lock.withLock { recorded.append(event) } }
    public var events: [BuildEvent] { lock.withLock { recorded } }
    public var cleanupActions: [String] {
        events.compactMap { if case let .cleanup(_, action, _) = $0 { return action } else { return nil } }
    }
    public var text: String {
        events.map { "\($0)" }.joined(separator: "\n")
    }
}

/// The step cache in memory: keys only, every layer "stored" at a fake path.
public final class FakeLayerCache: LayerCache, @unchecked Sendable {
    private let lock = NSLock()
    private var keys: [String: String] = [:]
    let world: FakeWorld

    public init(world: FakeWorld) { self.world = world }

    public var storedDescriptions: [String] { lock.withLock { Array(keys.values).sorted() } }

    public func lookup(_ key: String) async -> CachedLayer? {
        guard let description = lock.withLock({ keys[key] }) else { return nil }
        try? world.record("layer hit")
        return CachedLayer(key: key, path: "/fake/layers/\(key).qcow2", size: 1 << 20, description: description, release: {})
    }

    public func store(_ image: String, key: String, parent: CachedLayer?, base: ResolvedBase,
                      description: String) async throws -> CachedLayer? {
        try world.record("layer store")
        let fresh = lock.withLock { () -> Bool in
            guard keys[key] == nil else { return false }
            keys[key] = description
            return true
        }
        return fresh ? CachedLayer(key: key, path: "/fake/layers/\(key).qcow2", size: 1 << 20, description: description, release: {}) : nil
    }
}
