import Foundation

/// Finds and removes what killed Kiln processes left behind (after SIGKILL nothing could clean):
/// domains and working directories whose owner PID is gone. Live builds are never touched.
public enum Janitor {
    public struct Report: Sendable {
        public var removed: [String] = []
        public var failed: [String] = []
    }

    public static func clean(hypervisor: (any Hypervisor)?, workRoot: String) async -> Report {
        await clean(hypervisors: hypervisor.map { [$0] } ?? [], workRoot: workRoot)
    }

    /// Cleans every connection in use (a build may spread over several hosts), then the work root.
    public static func clean(hypervisors: [any Hypervisor], workRoot: String) async -> Report {
        var report = Report()
        for hypervisor in hypervisors {
            await clean(hypervisor, into: &report)
        }
        for (path, owner) in WorkDirectory.orphans(root: workRoot) {
            if let staging = try? String(contentsOfFile: path + "/" + WorkDirectory.stagingRecord, encoding: .utf8),
               FileManager.default.fileExists(atPath: staging) {
                try? FileManager.default.removeItem(atPath: staging)
                report.removed.append("partial outputs \(staging)")
            }
            do {
                try FileManager.default.removeItem(atPath: path)
                report.removed.append("work directory \(path) (build \(owner.build), pid \(owner.pid) is gone)")
            } catch {
                report.failed.append("work directory \(path): \(error)")
            }
        }
        return report
    }

    /// Domains first (a pool is in use while its domain runs), then storage.
    private static func clean(_ hypervisor: any Hypervisor, into report: inout Report) async {
        if let domains = try? await hypervisor.kilnDomains() {
            for leftover in domains where !WorkDirectory.isAlive(pid: leftover.ownerPID) {
                guard let name = leftover.domainName else { continue }
                do {
                    try await hypervisor.destroyDomain(named: name)
                    report.removed.append("domain \(name) (owner pid \(leftover.ownerPID) is gone)")
                } catch {
                    report.failed.append("domain \(name): \(error)")
                }
            }
        }
        if let storage = try? await hypervisor.kilnStorage() {
            for leftover in storage where !leftover.ownerAlive {
                do {
                    try await hypervisor.removeStorage(named: leftover.name)
                    report.removed.append("storage pool \(leftover.name) ("
                                          + (leftover.ownerPID.map { "owner pid \($0) is gone" } ?? "no owner record") + ")")
                } catch {
                    report.failed.append("storage pool \(leftover.name): \(error)")
                }
            }
        }
    }
}
