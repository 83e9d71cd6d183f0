import Foundation
import GuestFS
import KilnCore

/// One launched appliance with the guest's filesystems mounted read-write.
struct ApplianceSession: Sendable {
    let handle: Handle
    let disk: String
    let root: String
    /// Guest mount points, shortest first.
    let mountpoints: [String]
    /// What inspection found at launch (package count not yet read).
    let os: GuestOSInfo
    /// The appliance's qemu process, killed when the calling task is cancelled; nil when unknown.
    let processID: Int32?
    let forcedTCG: Bool

    /// Checks the disk, launches the appliance on it and mounts the guest's filesystems.
    /// Records the launch and inspection times in `report`.
    static func open(disk: String, options: ApplianceOptions, report: inout OfflineReport) async throws -> ApplianceSession {
        let format = try await DiskPreflight.check(disk)
        let forceTCG = options.forceTCG ?? ApplianceOptions.kvmUnusable()
        let handle = try offline("cannot create a libguestfs handle") { try Handle() }

        let launchStart = ContinuousClock.now
        try await handle.run { h in
            try offline("cannot launch the libguestfs appliance for \(disk)") {
                if forceTCG { try h.setBackendSetting("force_tcg", "1") }
                if let memory = options.memoryMiB { try h.setMemorySize(memory) }
                if let cpus = options.cpus { try h.setCPUs(cpus) }
                try h.addDrive(disk, format: format, discard: .besteffort)
                try h.launch()
            }
        }
        report.applianceLaunchSeconds = launchStart.secondsSince
        let processID = try? await handle.run { h in try h.processID() }

        let inspectStart = ContinuousClock.now
        let unmounted = ApplianceSession(handle: handle, disk: disk, root: "", mountpoints: [], os: .unknown,
                                         processID: processID, forcedTCG: forceTCG)
        let (root, mountpoints, os) = try await unmounted.run { h in try inspectAndMount(h, disk: disk) }
        report.phases["inspect"] = inspectStart.secondsSince
        return ApplianceSession(handle: handle, disk: disk, root: root, mountpoints: mountpoints, os: os,
                                processID: processID, forcedTCG: forceTCG)
    }

    /// Runs `body` on the handle's queue. Cancelling the calling task kills the appliance, so a
    /// long call (a command, a big upload) ends at once; the handle is useless afterwards.
    func run<T: Sendable>(_ body: @escaping @Sendable (Handle) throws -> T) async throws -> T {
        try Task.checkCancellation()
        do {
            return try await withTaskCancellationHandler {
                try await handle.run(body)
            } onCancel: { [processID] in
                if let processID, processID > 0 { kill(processID, SIGKILL) }
            }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw error
        }
    }

    private static func inspectAndMount(_ h: Handle, disk: String) throws -> (String, [String], GuestOSInfo) {
        let roots = try offline("inspection of \(disk) failed") { try h.inspectOS() }
        guard let root = roots.first else {
            let filesystems = (try? h.listFilesystems()) ?? []
            let found = filesystems.isEmpty
                ? "no filesystems"
                : "filesystems: " + filesystems.map { "\($0.device) (\($0.type))" }.joined(separator: ", ")
            throw KilnError(.offline, "no operating system found on \(disk) (\(found))",
                            hint: "the disk must hold an installed Linux system with /etc and an os-release file")
        }
        let os = try offline("inspection of \(disk) failed") {
            GuestOSInfo(osType: try h.inspectType(root: root),
                        distribution: try h.inspectDistro(root: root),
                        version: "\(try h.inspectMajorVersion(root: root)).\(try h.inspectMinorVersion(root: root))",
                        architecture: try h.inspectArch(root: root),
                        hostname: try h.inspectHostname(root: root),
                        packageCount: nil)
        }
        let mountpoints = try offline("inspection of \(disk) failed") { try h.inspectMountpoints(root: root) }
        for (mountpoint, device) in mountpoints {
            try offline("cannot mount \(device) at \(mountpoint) of \(disk)") { try h.mount(device, at: mountpoint) }
        }
        return (root, mountpoints.map(\.mountpoint), os)
    }

    /// Unmounts, syncs and stops the appliance so every write reaches the disk file.
    func close() async throws {
        try await run { h in
            try offline("cannot cleanly stop the libguestfs appliance for \(disk)") {
                try h.unmountAll()
                try h.shutdown()
            }
        }
    }
}

/// Turns libguestfs errors into Kiln's offline errors; other errors pass through.
func offline<T>(_ context: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as GuestFSError {
        throw KilnError(.offline, "\(context()): \(error.message)", cause: error)
    }
}

extension GuestOSInfo {
    static let unknown = GuestOSInfo(osType: "unknown", distribution: "unknown", version: "unknown",
                                     architecture: "unknown", hostname: "unknown", packageCount: nil)
}

extension ContinuousClock.Instant {
    var secondsSince: Double {
        let elapsed = ContinuousClock.now - self
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
