import Foundation
import GuestFS
import KilnCore
import KilnTemplate

/// The offline disk work of a build through libguestfs: one appliance launch per call.
public struct GuestFSDiskWorker: OfflineDiskWorker {
    public var options: ApplianceOptions

    public init(options: ApplianceOptions = ApplianceOptions()) {
        self.options = options
    }

    public func prepare(disk: String, seed: SeedMaterial?, steps: [ProvisionerKind],
                        events: any EventSink, build: String) async throws -> OfflineReport {
        var report = OfflineReport()
        let session = try await open(disk, report: &report, events: events, build: build)
        if let seed {
            let notes = try await timed("seed", in: &report) {
                try await session.run { h in try GuestSeeding.seed(seed, on: h) }
            }
            notes.forEach { events.emit(.info(build: build, message: $0)) }
        }
        if !steps.isEmpty {
            try await timed("steps", in: &report) {
                try await OfflineSteps.run(steps, in: session, events: events, build: build)
            }
        }
        try await timed("shutdown", in: &report) { try await session.close() }
        report.os = session.os
        return report
    }

    public func finish(disk: String, steps: [ProvisionerKind], generalize: GeneralizeSpec, seed: SeedMaterial?,
                       events: any EventSink, build: String) async throws -> OfflineReport {
        try await finish(disk: disk, steps: steps, generalize: GeneralizeRequest(generalize), seed: seed,
                         events: events, build: build)
    }

    func finish(disk: String, steps: [ProvisionerKind], generalize: GeneralizeRequest, seed: SeedMaterial?,
                events: any EventSink, build: String) async throws -> OfflineReport {
        var report = OfflineReport()
        report.sizeBefore = DiskPreflight.allocatedBytes(disk)
        let session = try await open(disk, report: &report, events: events, build: build)
        if !steps.isEmpty {
            try await timed("steps", in: &report) {
                try await OfflineSteps.run(steps, in: session, events: events, build: build)
            }
        }
        if seed != nil && !(generalize.enabled && generalize.operations.contains(.sshKeys)) {
            events.emit(.warning(build: build, message:
                "generalize ssh-keys is off: the build's authorized key stays in the image"))
        }
        if generalize.enabled {
            let outcome = try await timed("generalize", in: &report) {
                try await session.run { h in try Generalizer.run(generalize, seed: seed, on: h) }
            }
            report.removed = outcome.removed
            outcome.notes.forEach { events.emit(.info(build: build, message: $0)) }
            events.emit(.info(build: build, message: "generalize: removed or emptied \(outcome.removed.count) items"))
        }
        if generalize.enabled && generalize.compact {
            let warnings = try await timed("compact", in: &report) {
                try await session.run { h in Self.trim(session.mountpoints, on: h) }
            }
            warnings.forEach { events.emit(.warning(build: build, message: $0)) }
        }
        report.os = try await timed("report", in: &report) {
            try await session.run { h in Self.finalOSInfo(session, on: h) }
        }
        try await timed("shutdown", in: &report) { try await session.close() }
        report.sizeAfter = DiskPreflight.allocatedBytes(disk)
        return report
    }

    private func open(_ disk: String, report: inout OfflineReport,
                      events: any EventSink, build: String) async throws -> ApplianceSession {
        events.emit(.info(build: build, message: "offline: launching the libguestfs appliance on \(disk)"))
        let session = try await ApplianceSession.open(disk: disk, options: options, report: &report)
        let os = session.os
        let seconds = String(format: "%.1f", report.applianceLaunchSeconds)
        events.emit(.info(build: build, message:
            "offline: appliance up in \(seconds) s\(session.forcedTCG ? " under TCG" : ""); \(os.osType) \(os.distribution) \(os.version) on \(session.root)"))
        return session
    }

    /// fstrim every mounted filesystem; a filesystem that cannot trim only warns.
    private static func trim(_ mountpoints: [String], on h: Handle) -> [String] {
        var warnings: [String] = []
        for mountpoint in mountpoints {
            do {
                try h.fstrim(mountpoint)
            } catch let error as GuestFSError {
                warnings.append("compact: cannot trim \(mountpoint): \(error.message)")
            } catch {
                warnings.append("compact: cannot trim \(mountpoint): \(error)")
            }
        }
        return warnings
    }

    /// Inspection's findings, with the hostname as the steps left it and the package count.
    private static func finalOSInfo(_ session: ApplianceSession, on h: Handle) -> GuestOSInfo {
        var os = session.os
        if let text = try? h.readText("/etc/hostname"),
           let name = text.split(separator: "\n").first?.trimmingCharacters(in: .whitespaces), !name.isEmpty {
            os.hostname = name
        }
        if let format = try? h.inspectPackageFormat(root: session.root), format != "unknown" {
            os.packageCount = try? h.inspectApplicationCount(root: session.root)
        }
        return os
    }
}

/// Runs `body`, adding its duration to `report.phases[name]`.
private func timed<T>(_ name: String, in report: inout OfflineReport,
                      _ body: () async throws -> T) async throws -> T {
    let start = ContinuousClock.now
    defer { report.phases[name, default: 0] += start.secondsSince }
    return try await body()
}
