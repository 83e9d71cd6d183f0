import Foundation
import KilnTemplate

// The engine talks to the world only through these small protocols. KilnDrivers implements
// them for real (libvirt, swift-nio-ssh, qemu-img, libguestfs); KilnTestSupport has fakes.

// MARK: base images

/// A base image ready to back a work disk.
public struct ResolvedBase: Sendable, Equatable {
    /// Absolute path; never modified by Kiln.
    public var path: String
    /// qemu-img's name for the format, detected from the content (qcow2, raw, vmdk, vdi, vpc, vhdx).
    public var format: String
    public var virtualSize: UInt64
    /// How this image can be seeded, when known (Kiln-bootstrapped images take credentials).
    public var seedHint: SeedMethod?
    /// Direct kernel boot files shipped with the image (bootstrap images keep vmlinuz/initrd beside them).
    public var kernelBoot: KernelBoot?
    /// What the image is, for the build output: "bootstrap debian/bookworm (cached)", a path, a URL.
    public var origin: String
    public var cacheHit: Bool

    public init(path: String, format: String, virtualSize: UInt64, seedHint: SeedMethod? = nil,
                kernelBoot: KernelBoot? = nil, origin: String, cacheHit: Bool = false) {
        self.path = path
        self.format = format
        self.virtualSize = virtualSize
        self.seedHint = seedHint
        self.kernelBoot = kernelBoot
        self.origin = origin
        self.cacheHit = cacheHit
    }
}

public protocol BaseImageResolver: Sendable {
    /// Finds, downloads (verified, cached) or bootstraps the base image. Emits progress events.
    func resolve(_ source: SourceSpec, build: String, events: any EventSink) async throws -> ResolvedBase
}

// MARK: disks (qemu-img)

public struct DiskInfo: Sendable, Equatable {
    public var format: String
    public var virtualSize: UInt64
    public var actualSize: UInt64
    public var backingFile: String?
    public init(format: String, virtualSize: UInt64, actualSize: UInt64, backingFile: String? = nil) {
        self.format = format
        self.virtualSize = virtualSize
        self.actualSize = actualSize
        self.backingFile = backingFile
    }
}

public protocol DiskTool: Sendable {
    func info(_ path: String) async throws -> DiskInfo
    /// A qcow2 overlay at `path` backed by `base` (absolute), grown to `size` when given.
    func createOverlay(at path: String, base: String, baseFormat: String, size: UInt64?) async throws
    /// Converts `source` (qcow2) to one output. Writes exactly `destination`; reports progress 0...1.
    func convert(source: String, to destination: String, output: OutputSpec,
                 progress: @escaping @Sendable (Double) -> Void) async throws
}

// MARK: the virtual machine

public enum Accelerator: String, Sendable { case kvm, tcg }

public struct VMConfig: Sendable, Equatable {
    public var name: String
    public var cpus: Int
    public var memoryMiB: Int
    public var accelerator: Accelerator
    public var firmware: Firmware
    public var diskPath: String
    public var diskFormat: String
    public var consoleLogPath: String
    public var guestSSHPort: Int
    public var kernelBoot: KernelBoot?
    /// SMBIOS type 11 strings, e.g. `io.systemd.credential:ssh.authorized_keys.root=...`.
    public var smbiosOEMStrings: [String]
    /// Recorded in the domain's metadata so `kiln clean` can tell a dead build's leftovers.
    public var ownerPID: Int32
    public var workDirectory: String

    public init(name: String, cpus: Int, memoryMiB: Int, accelerator: Accelerator, firmware: Firmware,
                diskPath: String, diskFormat: String = "qcow2", consoleLogPath: String, guestSSHPort: Int = 22,
                kernelBoot: KernelBoot? = nil, smbiosOEMStrings: [String] = [], ownerPID: Int32,
                workDirectory: String) {
        self.name = name
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.accelerator = accelerator
        self.firmware = firmware
        self.diskPath = diskPath
        self.diskFormat = diskFormat
        self.consoleLogPath = consoleLogPath
        self.guestSSHPort = guestSSHPort
        self.kernelBoot = kernelBoot
        self.smbiosOEMStrings = smbiosOEMStrings
        self.ownerPID = ownerPID
        self.workDirectory = workDirectory
    }
}

public enum VMState: String, Sendable { case running, paused, shuttingDown, shutoff, crashed, gone, other }

public protocol VirtualMachine: Sendable {
    var name: String { get }
    /// Where the guest's SSH port is forwarded on the host (always 127.0.0.1).
    func sshEndpoint() async throws -> (host: String, port: Int)
    func state() async throws -> VMState
    /// ACPI power button.
    func requestShutdown() async throws
    /// Hard power-off and removal; succeeds when the domain is already gone.
    func destroy() async throws
    /// Freezes the disk image the running guest writes to: from now on its writes go to a new
    /// qcow2 overlay at `overlay` (backed by the frozen image), which the caller then owns.
    func redirectDiskWrites(to overlay: String) async throws
    /// Where the guest runs, for the build output (the connection, and for a remote host how
    /// the disk got there); nil when there is nothing worth saying.
    var placement: String? { get }
    /// Ends this run of the guest once it is off (`forcingOff`: it would not stop, power it off
    /// hard first). A guest that ran on a remote host gets its disk back into the work
    /// directory here, and its storage there is removed. Returns a line for the build output.
    func finish(forcingOff: Bool) async throws -> String?
}

extension VirtualMachine {
    public var placement: String? { nil }

    public func finish(forcingOff: Bool) async throws -> String? {
        if forcingOff { try await destroy() }
        return nil
    }
}

/// The hypervisor connection a guest was started on dropped: libvirtd stopped or restarted, or
/// its host went away. The guest may be gone with it or still running without its owner, so
/// the build stops; its cleanup reconnects to remove what is left.
public struct HypervisorConnectionLost: Error, Sendable, CustomStringConvertible {
    public var uri: String
    public var detail: String
    public init(uri: String, detail: String) {
        self.uri = uri
        self.detail = detail
    }
    public var description: String { "lost the connection to libvirt at \(uri): \(detail)" }
}

/// A domain or work directory left by a Kiln process.
public struct Leftover: Sendable, Equatable {
    public var domainName: String?
    public var workDirectory: String?
    public var ownerPID: Int32
    public init(domainName: String?, workDirectory: String?, ownerPID: Int32) {
        self.domainName = domainName
        self.workDirectory = workDirectory
        self.ownerPID = ownerPID
    }
}

/// Storage a Kiln run holds on a hypervisor's host (a remote host's pool per guest run).
public struct StorageLeftover: Sendable, Equatable {
    public var name: String
    /// Nil when the storage has no owner record.
    public var ownerPID: Int32?
    public var ownerAlive: Bool
    public init(name: String, ownerPID: Int32?, ownerAlive: Bool) {
        self.name = name
        self.ownerPID = ownerPID
        self.ownerAlive = ownerAlive
    }
}

public protocol Hypervisor: Sendable {
    /// The accelerator that will run, and why (for the build output).
    func chooseAccelerator(_ choice: AcceleratorChoice) async throws -> (Accelerator, reason: String)
    /// Defines and starts a transient domain.
    func start(_ config: VMConfig) async throws -> any VirtualMachine
    /// Kiln domains on this connection, with their owner PIDs.
    func kilnDomains() async throws -> [Leftover]
    func destroyDomain(named name: String) async throws
    /// Storage of Kiln runs on this connection's host (none for a local hypervisor, whose work
    /// disks live in work directories), whether its owner is alive, judged by this machine.
    func kilnStorage() async throws -> [StorageLeftover]
    func removeStorage(named name: String) async throws
}

extension Hypervisor {
    public func kilnStorage() async throws -> [StorageLeftover] { [] }
    public func removeStorage(named name: String) async throws {}
}

// MARK: the guest shell (SSH)

public enum GuestCredentials: Sendable {
    case privateKey(path: String)
    case password(String)
}

public enum HostKeyPolicy: Sendable {
    /// The public key line (`ssh-ed25519 AAAA...`) the guest must present.
    case pinned(String)
    /// No pin was possible (seed: none): accept the first key, say so in the output.
    case acceptAny
}

public struct GuestEndpoint: Sendable {
    public var host: String
    public var port: Int
    public var username: String
    public var credentials: GuestCredentials
    public var hostKey: HostKeyPolicy
    public init(host: String, port: Int, username: String, credentials: GuestCredentials, hostKey: HostKeyPolicy) {
        self.host = host
        self.port = port
        self.username = username
        self.credentials = credentials
        self.hostKey = hostKey
    }
}

public protocol GuestShell: Sendable {
    /// Runs a command, streaming its output line by line; returns the exit status.
    /// Throws `GuestDisconnected` if the connection drops before an exit status arrives.
    func run(_ command: String, output: @escaping @Sendable (BuildEvent.OutputStream, String) -> Void) async throws -> Int32
    /// Copies a host file to the guest, keeping its mode (or using `mode`).
    func upload(file: String, to guestPath: String, mode: Int?) async throws
    func close() async
}

public struct GuestDisconnected: Error, Sendable {
    public init() {}
}

public protocol GuestConnector: Sendable {
    /// Tries one connection (no retries: the engine polls). Fails fast with the reason.
    func connect(_ endpoint: GuestEndpoint) async throws -> any GuestShell
}

// MARK: offline disk work (libguestfs)

/// What the build injects so that it can log in and pin the guest's host key.
public struct SeedMaterial: Sendable, Equatable {
    public var username: String
    public var authorizedKey: String        // "ssh-ed25519 AAAA... kiln-build"
    public var hostPrivateKeyOpenSSH: String // PEM-ish OpenSSH private key file content
    public var hostPublicKey: String        // "ssh-ed25519 AAAA..."
    public init(username: String, authorizedKey: String, hostPrivateKeyOpenSSH: String, hostPublicKey: String) {
        self.username = username
        self.authorizedKey = authorizedKey
        self.hostPrivateKeyOpenSSH = hostPrivateKeyOpenSSH
        self.hostPublicKey = hostPublicKey
    }
}

public struct GuestOSInfo: Sendable, Equatable, Codable {
    public var osType: String
    public var distribution: String
    public var version: String
    public var architecture: String
    public var hostname: String
    public var packageCount: Int?
    public init(osType: String, distribution: String, version: String, architecture: String,
                hostname: String, packageCount: Int?) {
        self.osType = osType
        self.distribution = distribution
        self.version = version
        self.architecture = architecture
        self.hostname = hostname
        self.packageCount = packageCount
    }
}

/// Timings and results of one appliance session, for the build output and the manifest.
public struct OfflineReport: Sendable, Equatable {
    public var applianceLaunchSeconds: Double = 0
    public var phases: [String: Double] = [:]
    public var removed: [String] = []
    public var sizeBefore: UInt64?
    public var sizeAfter: UInt64?
    public var os: GuestOSInfo?
    public init() {}
}

public protocol OfflineDiskWorker: Sendable {
    /// Before the first boot: seed (when given) then the leading offline provisioners, in one launch.
    func prepare(disk: String, seed: SeedMaterial?, steps: [ProvisionerKind],
                 events: any EventSink, build: String) async throws -> OfflineReport
    /// After the last shutdown: trailing offline provisioners, generalize, compact and inspect, in one launch.
    func finish(disk: String, steps: [ProvisionerKind], generalize: GeneralizeSpec, seed: SeedMaterial?,
                events: any EventSink, build: String) async throws -> OfflineReport
}

// MARK: keys

/// The build's ephemeral key material, made fresh for every build.
public struct BuildKeys: Sendable, Equatable {
    /// 0600 file in the build's 0700 directory, deleted with it.
    public var clientPrivateKeyPath: String
    public var authorizedKeyLine: String
    public var hostPrivateKeyOpenSSH: String
    public var hostPublicKeyLine: String
    public init(clientPrivateKeyPath: String, authorizedKeyLine: String, hostPrivateKeyOpenSSH: String,
                hostPublicKeyLine: String) {
        self.clientPrivateKeyPath = clientPrivateKeyPath
        self.authorizedKeyLine = authorizedKeyLine
        self.hostPrivateKeyOpenSSH = hostPrivateKeyOpenSSH
        self.hostPublicKeyLine = hostPublicKeyLine
    }
}

public protocol KeyGenerator: Sendable {
    func generate(in directory: String) throws -> BuildKeys
}

// MARK: all of them

/// The ports a build needs; the CLI wires real drivers, tests wire fakes.
public struct Drivers: Sendable {
    public var bases: any BaseImageResolver
    public var disks: any DiskTool
    public var hypervisor: any Hypervisor
    public var guests: any GuestConnector
    public var offline: any OfflineDiskWorker
    public var keys: any KeyGenerator
    public var packager: (any ArtifactPackager)?
    public var publisher: (any ImagePublisher)?
    /// The step cache; nil turns it off (as `--no-cache` does).
    public var layers: (any LayerCache)?
    public init(bases: any BaseImageResolver, disks: any DiskTool, hypervisor: any Hypervisor,
                guests: any GuestConnector, offline: any OfflineDiskWorker, keys: any KeyGenerator,
                packager: (any ArtifactPackager)? = nil, publisher: (any ImagePublisher)? = nil,
                layers: (any LayerCache)? = nil) {
        self.layers = layers
        self.packager = packager
        self.publisher = publisher
        self.bases = bases
        self.disks = disks
        self.hypervisor = hypervisor
        self.guests = guests
        self.offline = offline
        self.keys = keys
    }
}

// MARK: the step cache

/// A disk state kept in the step cache: a qcow2 layer whose backing chain ends at the base image.
/// While a build holds it (from lookup or store until `release`), no prune removes it or its parents.
public struct CachedLayer: Sendable {
    public var key: String
    /// Absolute path of the layer's qcow2 file.
    public var path: String
    /// Bytes of this layer alone (its parents not counted).
    public var size: UInt64
    /// What produced it, for the build output: "shell #2 (templates/web.yaml:14)".
    public var description: String
    public var release: @Sendable () -> Void
    public init(key: String, path: String, size: UInt64, description: String, release: @escaping @Sendable () -> Void) {
        self.key = key
        self.path = path
        self.size = size
        self.description = description
        self.release = release
    }
}

public protocol LayerCache: Sendable {
    /// The layer stored under `key` with its whole chain present, held for the caller; nil if absent.
    func lookup(_ key: String) async -> CachedLayer?
    /// Keeps a copy of `image`, a frozen qcow2 whose content is `parent`'s (or the base image's when
    /// `parent` is nil) plus one step's changes. Returns the stored layer, held for the caller, or
    /// nil when another build stored the same key first (its layer is then the one to build on).
    func store(_ image: String, key: String, parent: CachedLayer?, base: ResolvedBase,
               description: String) async throws -> CachedLayer?
}

// MARK: publishing (AWS)

public struct PublishResult: Sendable, Equatable, Codable {
    public var region: String
    public var imageID: String
    public var snapshotID: String
    /// Anything else worth recording in the manifest (launch template version, refresh id...).
    public var details: [String: String]
    public init(region: String, imageID: String, snapshotID: String, details: [String: String] = [:]) {
        self.region = region
        self.imageID = imageID
        self.snapshotID = snapshotID
        self.details = details
    }
}

public protocol ImagePublisher: Sendable {
    /// Turns the finished disk (qcow2, after generalize) into an AMI. `scratch` is a directory in
    /// the build's work directory for temporary files. Undoes what it created if it fails or is
    /// cancelled (no half-registered image, no orphan snapshot).
    func publish(disk: String, ami: AMISpec, build: String, tags: [String: String], scratch: String,
                 events: any EventSink) async throws -> PublishResult
}

// MARK: packaging (OVA, Vagrant boxes)

public struct PackageRequest: Sendable {
    /// The finished work disk (qcow2).
    public var disk: String
    public var output: OutputSpec
    /// The build's name (used in file names and descriptors).
    public var name: String
    public var machine: MachineSpec
    /// Exactly this file is to be written (it sits in the staging directory under a temporary name).
    public var destination: String
    /// A directory in the work directory for intermediate files.
    public var scratch: String
    public init(disk: String, output: OutputSpec, name: String, machine: MachineSpec, destination: String, scratch: String) {
        self.disk = disk
        self.output = output
        self.name = name
        self.machine = machine
        self.destination = destination
        self.scratch = scratch
    }
}

public protocol ArtifactPackager: Sendable {
    /// Writes an OVA or a Vagrant box for `request.output`.
    func package(_ request: PackageRequest, progress: @escaping @Sendable (Double) -> Void) async throws
}
