import Foundation
import KilnCore

/// The disk conversions packaging needs through qemu-img, with progress (the OVA's VMDK is
/// written by `StreamOptimizedVMDKConversion`).
enum PackageDiskConversion {
    /// qcow2 -> a standalone qcow2 (no backing file). Compressed output must be written in order;
    /// otherwise 8 coroutines with out-of-order writes.
    static func standaloneQcow2Arguments(source: String, destination: String, compress: Bool) -> [String] {
        ["convert", "-p", "-f", "qcow2", "-O", "qcow2"] + (compress ? ["-c"] : ["-m", "8", "-W"]) + [source, destination]
    }

    static func run(_ arguments: [String], writing destination: String,
                    progress: @escaping @Sendable (Double) -> Void) async throws {
        do {
            try await Subprocess.run("qemu-img", arguments, onStdoutLine: { line in
                if let fraction = QemuImgProgress.parse(line) { progress(fraction) }
            })
        } catch let failure as Subprocess.Failure {
            let reason = failure.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            let hint = reason.contains("No space left") ? "free space in the work and output directories" : nil
            throw KilnError(.export, "qemu-img could not write \(destination): \(reason)", hint: hint)
        }
    }
}
