import Foundation
import KilnTemplate

/// File names of the artifacts a build writes.
public enum ExportNaming {
    /// Formats made by packaging a converted disk (the ArtifactPackager port), not by qemu-img alone.
    public static let packaged: Set<OutputFormat> = [.ova, .vagrant]

    public static func fileName(build: String, output: OutputSpec) -> String {
        switch output.format {
        case .raw: return "\(build).raw"
        case .ova: return "\(build).ova"
        case .vagrant: return "\(build)-\(output.vagrantProvider.rawValue).box"
        default: return "\(build).\(output.format.rawValue)"
        }
    }
}
