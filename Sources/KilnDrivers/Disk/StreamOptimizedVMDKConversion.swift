import Foundation
import KilnCore

/// qcow2 -> streamOptimized VMDK with Kiln's own writer instead of `qemu-img convert`, whose
/// single thread of zlib made the VMDK the slowest export by far. qemu-img first copies the
/// disk to a sparse raw file in `scratch` (no compression: a fraction of a second, and only the
/// data takes space), then `StreamOptimizedVMDKWriter` deflates the grains on every core.
enum StreamOptimizedVMDKConversion {
    /// Share of the progress given to the raw copy.
    static let rawShare = 0.1

    static func convert(source: String, to destination: String, adapter: VMDKAdapterType, scratch: String,
                        progress: @escaping @Sendable (Double) -> Void) async throws {
        let raw = scratch + "/.\((destination as NSString).lastPathComponent)-\(UUID().uuidString).raw"
        defer { try? FileManager.default.removeItem(atPath: raw) }
        do {
            try await Subprocess.run("qemu-img", QemuImgArguments.convertToRaw(source: source, destination: raw),
                                     onStdoutLine: { line in
                if let fraction = QemuImgProgress.parse(line) { progress(fraction * rawShare) }
            })
        } catch let failure as Subprocess.Failure {
            let reason = failure.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw KilnError(.export, "qemu-img could not copy \(source) to a raw file in \(scratch) for the VMDK: \(reason)",
                            hint: hint(reason))
        }
        let options = StreamOptimizedVMDKWriter.Options(adapter: adapter, fileName: finalName(of: destination))
        do {
            _ = try await BlockingWork.run { flag in
                try StreamOptimizedVMDKWriter.write(raw: raw, to: destination, options: options,
                                                    isCancelled: { flag.isRaised },
                                                    progress: { progress(rawShare + (1 - rawShare) * $0) })
            }
        } catch let error as CancellationError {
            throw error
        } catch {
            let reason = String(describing: error)
            throw KilnError(.export, "could not write the streamOptimized VMDK \(destination): \(reason)",
                            hint: hint(reason))
        }
    }

    /// Outputs are written as NAME.partial and renamed when complete; the descriptor names the final file.
    static func finalName(of destination: String) -> String {
        let name = (destination as NSString).lastPathComponent
        return name.hasSuffix(".partial") ? String(name.dropLast(".partial".count)) : name
    }

    private static func hint(_ reason: String) -> String? {
        reason.contains("No space left") ? "free space in the work and output directories, or choose another --output-dir" : nil
    }
}
