import Foundation
import KilnAWS
import KilnCore
import KilnTemplate

/// Publishes the finished disk as an AMI through the EBS direct APIs: qcow2 -> sparse raw in
/// scratch -> StartSnapshot / PutSnapshotBlock (non-zero blocks only) / CompleteSnapshot ->
/// RegisterImage -> tags. Undoes what it created when it fails or is cancelled.
public struct AMIPublisher: ImagePublisher {
    public var environment: AWSEnvironment
    /// nil: URLSession with as many connections as blocks in flight. Tests pass a recorder.
    public var transport: (any HTTPTransport)?
    public var retry: RetryPolicy
    /// Between DescribeSnapshots / DescribeImages polls.
    public var pollInterval: Duration
    /// The step name in progress events.
    public var step: String

    public init(environment: AWSEnvironment = .current, transport: (any HTTPTransport)? = nil,
                retry: RetryPolicy = .standard, pollInterval: Duration = .seconds(5), step: String = "publish") {
        self.environment = environment
        self.transport = transport
        self.retry = retry
        self.pollInterval = pollInterval
        self.step = step
    }

    static let gibibyte: UInt64 = 1 << 30

    public func publish(disk: String, ami: AMISpec, build: String, tags: [String: String], scratch: String,
                        events: any EventSink) async throws -> PublishResult {
        let configuration: AWSConfiguration
        do {
            configuration = try AWSConfiguration.resolve(environment: environment, preferredRegion: ami.region)
        } catch let error as AWSConfigurationError {
            throw KilnError(.publish, "cannot publish the AMI: \(error.message)", hint: error.hint)
        }
        events.emit(.info(build: build, message: "publishing AMI '\(ami.name)' to \(configuration.region) "
                          + "(\(configuration.credentials))"))
        let transport = self.transport ?? URLSessionTransport(maximumConnectionsPerHost: ami.concurrency)
        var allTags = ami.tags.merging(tags) { own, _ in own }
        if allTags["Name"] == nil { allTags["Name"] = ami.name }
        let request = PublishRequest(disk: disk, ami: ami, build: build, tags: allTags, scratch: scratch,
                                     configuration: configuration, transport: transport, events: events)
        try await checkRollout(request)
        let registered: PublishResult
        switch ami.method {
        case .direct: registered = try await publishDirect(request)
        case .import: registered = try await publishByImport(request)
        }
        return try await rollOut(registered, request)
    }

    /// What every publishing path needs; `tags` already merged (template tags win, Name set).
    struct PublishRequest: Sendable {
        var disk: String
        var ami: AMISpec
        var build: String
        var tags: [String: String]
        var scratch: String
        var configuration: AWSConfiguration
        var transport: any HTTPTransport
        var events: any EventSink
    }

    struct Clients: Sendable {
        var ebs: EBSClient
        var ec2: EC2Client
    }

    struct CreatedResources: Sendable {
        var snapshotID: String?
        var imageID: String?
    }

    struct Plan: Equatable {
        var bootMode: AMIBootMode
        var volumeGiB: Int
    }

    /// The offline checks: a bootable layout, and a volume large enough for the disk.
    func registrationPlan(_ blocks: SparseBlocks, ami: AMISpec) throws -> Plan {
        try registrationPlan(diskSize: blocks.size, ami: ami) { try blocks.bytes(at: $0, count: $1) }
    }

    /// The same checks from the disk's size and a reader of its first bytes (`read(offset, count)`).
    func registrationPlan(diskSize: UInt64, ami: AMISpec, read: (UInt64, Int) throws -> [UInt8]) throws -> Plan {
        let layout: DiskLayout
        do {
            layout = try DiskLayout.inspect(read: read)
        } catch {
            throw KilnError(.publish, "cannot read the disk's partition table: \(error)", cause: error)
        }
        let bootMode: AMIBootMode
        switch layout.bootMode(requested: ami.bootMode, architecture: ami.architecture) {
        case .success(let mode): bootMode = mode
        case .failure(let problem):
            throw KilnError(.publish, "the image cannot boot on EC2: \(problem.message)",
                            hint: "set publish.ami.boot_mode to match the disk (legacy-bios for GRUB on MBR, uefi with an EFI system partition)")
        }
        let diskGiB = Int((diskSize + Self.gibibyte - 1) / Self.gibibyte)
        let volumeGiB = ami.volumeSize.map { Int(($0 + Self.gibibyte - 1) / Self.gibibyte) } ?? max(1, diskGiB)
        guard volumeGiB >= diskGiB else {
            throw KilnError(.publish, "volume_size \(volumeGiB) GiB is smaller than the disk (\(diskGiB) GiB)",
                            hint: "remove volume_size, or set it to at least \(diskGiB)G")
        }
        return Plan(bootMode: bootMode, volumeGiB: volumeGiB)
    }

    func convertToRaw(_ disk: String, _ raw: String) async throws {
        do {
            let info = try await QemuImg.info(disk)
            try await Subprocess.run("qemu-img", ["convert", "-f", info.format, "-O", "raw", disk, raw])
        } catch {
            throw KilnError.wrap(error, as: .publish, "cannot convert \(disk) to a raw image for upload")
        }
    }

    func waitForSnapshot(_ id: String, _ ec2: EC2Client, timeout: Duration) async throws {
        try await ResourceWaiter(interval: pollInterval, timeout: timeout).wait {
            guard let snapshot = try await ec2.describeSnapshots(ids: [id]).first else { return .pending("not yet visible") }
            switch snapshot.state {
            case "completed": return .ready
            case "error": return .failed("snapshot \(id) failed: \(snapshot.stateMessage ?? "no reason given")")
            default: return .pending("\(snapshot.state) \(snapshot.progress ?? "")")
            }
        }
    }

    func waitForImage(_ id: String, _ ec2: EC2Client, timeout: Duration) async throws {
        try await ResourceWaiter(interval: pollInterval, timeout: timeout).wait {
            guard let image = try await ec2.describeImages(ids: [id]).first else { return .pending("not yet visible") }
            switch image.state {
            case "available": return .ready
            case "failed", "invalid", "error", "deregistered":
                return .failed("image \(id) is \(image.state): \(image.stateReason ?? "no reason given")")
            default: return .pending(image.state)
            }
        }
    }
}
