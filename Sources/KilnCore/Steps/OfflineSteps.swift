import Foundation
import KilnTemplate

extension StepContext {
    func seedMaterial(_ state: inout BuildState) throws -> SeedMaterial? {
        guard plan.seed != .none else { return nil }
        let keys = try ensureKeys(&state)
        return SeedMaterial(username: build.ssh.username, authorizedKey: keys.authorizedKeyLine,
                            hostPrivateKeyOpenSSH: keys.hostPrivateKeyOpenSSH, hostPublicKey: keys.hostPublicKeyLine)
    }

    func offlinePrepare(seed: Bool, steps: [ProvisionerSpec], _ state: inout BuildState) async throws {
        let material = seed ? try seedMaterial(&state) : nil
        let report: OfflineReport
        do {
            report = try await drivers.offline.prepare(disk: state.workDisk, seed: material, steps: steps.map(\.kind),
                                                       events: events, build: name)
        } catch {
            throw KilnError.wrap(error, as: .offline, "offline work on the disk failed")
        }
        info("appliance launch \(String(format: "%.1f", report.applianceLaunchSeconds)) s; " + phaseSummary(report))
        state.offline.append(report)
    }

    func offlineFinish(steps: [ProvisionerSpec], generalize: GeneralizeSpec, _ state: inout BuildState) async throws {
        // The key Kiln seeded is removed by generalize's ssh-keys operation when it runs.
        let material = plan.seed == .none ? nil : try seedMaterial(&state)
        let report: OfflineReport
        do {
            report = try await drivers.offline.finish(disk: state.workDisk, steps: steps.map(\.kind), generalize: generalize,
                                                      seed: material, events: events, build: name)
        } catch {
            throw KilnError.wrap(error, as: .offline, "generalizing the disk failed")
        }
        var summary = "appliance launch \(String(format: "%.1f", report.applianceLaunchSeconds)) s; " + phaseSummary(report)
        if let before = report.sizeBefore, let after = report.sizeAfter {
            summary += "; disk \(ByteFormat.string(before)) -> \(ByteFormat.string(after)) after trim"
        }
        info(summary)
        if let os = report.os {
            info("guest: \(os.distribution) \(os.version) \(os.architecture), hostname \(os.hostname)"
                 + (os.packageCount.map { ", \($0) packages" } ?? ""))
        }
        state.offline.append(report)
    }

    private func phaseSummary(_ report: OfflineReport) -> String {
        report.phases.sorted { $0.key < $1.key }
            .map { "\($0.key) \(String(format: "%.1f", $0.value)) s" }.joined(separator: ", ")
    }
}
