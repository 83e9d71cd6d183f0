import Foundation
import KilnTemplate

extension StepContext {
    func resolveBase(_ source: SourceSpec, _ state: inout BuildState) async throws {
        let base: ResolvedBase
        do {
            base = try await drivers.bases.resolve(source, build: name, events: events)
        } catch {
            throw KilnError.wrap(error, as: .baseImage, "cannot get the base image")
        }
        info("base image: \(base.origin) (\(base.format), \(ByteFormat.string(base.virtualSize)) virtual)")
        state.base = base
    }

    func createWorkDisk(size: UInt64?, _ state: inout BuildState) async throws {
        guard let base = state.base else { throw KilnError(.internal, "work disk before base image") }
        let path = state.workDirectory + "/disk.qcow2"
        if let layer = state.cacheParent {
            // A cached layer already has the size the template asks for (the size is part of its key).
            try await drivers.disks.createOverlay(at: path, base: layer.path, baseFormat: "qcow2", size: nil)
            state.workDisk = path
            info("work disk: qcow2 overlay on cached layer \(layer.key.prefix(12)): \(layer.description)")
            return
        }
        if let size, size < base.virtualSize {
            throw KilnError(.template, "\(build.location): machine.disk_size \(ByteFormat.string(size)) is smaller than the base image (\(ByteFormat.string(base.virtualSize)))",
                            hint: "disks can grow, not shrink: raise disk_size or leave it out")
        }
        try await drivers.disks.createOverlay(at: path, base: base.path, baseFormat: base.format,
                                              size: size.flatMap { $0 > base.virtualSize ? $0 : nil })
        state.workDisk = path
        info("work disk: qcow2 overlay on \(base.path)" + (size.map { ", grown to \(ByteFormat.string($0))" } ?? ""))
    }
}

public enum ByteFormat {
    public static func string(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : "\(String(format: "%.1f", value)) \(units[unit])"
    }
}

public enum DurationFormat {
    /// "90 s" -> "1m30s", as templates write durations.
    public static func string(_ duration: Duration) -> String {
        let total = duration.seconds
        if total < 1 { return "\(Int((total * 1000).rounded()))ms" }
        var seconds = Int(total.rounded())
        var text = ""
        if seconds >= 3600 { text += "\(seconds / 3600)h"; seconds %= 3600 }
        if seconds >= 60 { text += "\(seconds / 60)m"; seconds %= 60 }
        if seconds > 0 || text.isEmpty { text += "\(seconds)s" }
        return text
    }
}
