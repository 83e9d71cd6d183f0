import Foundation
import KilnTemplate

/// One step of a build, in the order it runs. `kiln inspect` prints these; the runner executes them.
public enum PlannedStep: Sendable {
    case resolveBase(SourceSpec)
    case createWorkDisk(size: UInt64?)
    /// Offline, before the first boot: the libguestfs seed (when `seed`) and leading offline provisioners.
    case offlinePrepare(seed: Bool, steps: [ProvisionerSpec])
    case boot
    case waitForSSH
    case provision(ProvisionerSpec)
    case shutdown
    /// Offline, after the last shutdown: trailing offline provisioners, generalize, compact, inspect.
    case offlineFinish(steps: [ProvisionerSpec], generalize: GeneralizeSpec)
    case export([OutputSpec])
    case publish(AMISpec)
    case writeManifest

    /// The short name shown in the build output and recorded with timings in the manifest.
    public var name: String {
        switch self {
        case .resolveBase: return "base image"
        case .createWorkDisk: return "work disk"
        case .offlinePrepare(let seed, let steps):
            return seed && steps.isEmpty ? "seed (libguestfs)" : "offline prepare"
        case .boot: return "boot"
        case .waitForSSH: return "wait for ssh"
        case .provision(let spec): return spec.title
        case .shutdown: return "shutdown"
        case .offlineFinish: return "generalize"
        case .export: return "export"
        case .publish: return "publish ami"
        case .writeManifest: return "manifest"
        }
    }
}

/// How the build's SSH key and pinned host key reach the guest, decided from the template alone.
public enum SeedPlan: Sendable, Equatable {
    case credentials
    case guestfs
    case none

    public static func choose(_ method: SeedMethod, source: SourceSpec) -> SeedPlan {
        switch method {
        case .credentials: return .credentials
        case .guestfs: return .guestfs
        case .none: return .none
        case .auto:
            // Images Kiln bootstraps run systemd >= 252, which reads credentials from SMBIOS:
            // no appliance launch needed. Anything else is seeded through libguestfs.
            if case .bootstrap = source { return .credentials }
            return .guestfs
        }
    }
}

public struct BuildPlan: Sendable {
    public var build: BuildSpec
    public var seed: SeedPlan
    public var steps: [PlannedStep]
    /// False when every provisioner is offline: the VM never boots.
    public var boots: Bool

    public init(_ build: BuildSpec) {
        self.build = build
        let online = build.provisioners.contains { !$0.kind.isOffline }
        let seed: SeedPlan = online ? SeedPlan.choose(build.seed, source: build.source) : .none
        self.seed = seed
        self.boots = online

        var steps: [PlannedStep] = [.resolveBase(build.source), .createWorkDisk(size: build.machine.diskSize)]
        let provisioners = build.provisioners
        guard let firstOnline = provisioners.firstIndex(where: { !$0.kind.isOffline }),
              let lastOnline = provisioners.lastIndex(where: { !$0.kind.isOffline })
        else {
            // Offline only: one appliance session does everything, and only if there is work.
            if !provisioners.isEmpty || build.generalize.enabled {
                steps.append(.offlineFinish(steps: provisioners, generalize: build.generalize))
            }
            steps.append(.export(build.outputs))
            if let ami = build.publish?.ami { steps.append(.publish(ami)) }
            steps.append(.writeManifest)
            self.steps = steps
            return
        }

        let leading = Array(provisioners[..<firstOnline])
        if seed == .guestfs || !leading.isEmpty {
            steps.append(.offlinePrepare(seed: seed == .guestfs, steps: leading))
        }
        steps += [.boot, .waitForSSH]
        var index = firstOnline
        while index <= lastOnline {
            let spec = provisioners[index]
            if spec.kind.isOffline {
                // Offline work between online steps: power off, work on the disk, boot again.
                var run: [ProvisionerSpec] = []
                while index <= lastOnline, provisioners[index].kind.isOffline {
                    run.append(provisioners[index])
                    index += 1
                }
                steps += [.shutdown, .offlinePrepare(seed: false, steps: run), .boot, .waitForSSH]
                continue
            }
            steps.append(.provision(spec))
            index += 1
        }
        steps.append(.shutdown)
        let trailing = Array(provisioners[(lastOnline + 1)...])
        if build.generalize.enabled || !trailing.isEmpty {
            steps.append(.offlineFinish(steps: trailing, generalize: build.generalize))
        }
        steps.append(.export(build.outputs))
        if let ami = build.publish?.ami { steps.append(.publish(ami)) }
        steps.append(.writeManifest)
        self.steps = steps
    }
}
