import Foundation
import KilnTemplate

/// File names of the artifacts a build writes.
public enum ExportNaming {
    /// Formats this version can write.
    public static let supported: Set<OutputFormat> = [.qcow2, .raw, .vdi, .vmdk, .vhd, .vhdx]

    public static func fileName(build: String, output: OutputSpec) -> String {
        switch output.format {
        case .raw: return "\(build).raw"
        case .ova: return "\(build).ova"
        case .vagrant: return "\(build)-\(output.vagrantProvider.rawValue).box"
        default: return "\(build).\(output.format.rawValue)"
        }
    }
}
