import Foundation
import KilnCore
import KilnTemplate

/// The DiskTool port over qemu-img, except for streamOptimized VMDKs: Kiln writes those itself,
/// compressing on every core (`StreamOptimizedVMDKConversion`), from a raw copy made beside the
/// source (the build's work directory).
public struct QemuImgDiskTool: DiskTool {
    public init() {}

    public func info(_ path: String) async throws -> DiskInfo {
        try await QemuImg.info(path)
    }

    public func createOverlay(at path: String, base: String, baseFormat: String, size: UInt64?) async throws {
        do {
            try await Subprocess.run("qemu-img", QemuImgArguments.createOverlay(path: path, base: base, baseFormat: baseFormat, size: size))
        } catch let failure as Subprocess.Failure {
            throw KilnError(.internal, "cannot create the work disk: \(failure.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    public func convert(source: String, to destination: String, output: OutputSpec,
                        progress: @escaping @Sendable (Double) -> Void) async throws {
        if output.format == .vmdk && output.vmdkSubformat == .streamOptimized {
            let scratch = (source as NSString).deletingLastPathComponent
            try await StreamOptimizedVMDKConversion.convert(source: source, to: destination, adapter: .ide,
                                                            scratch: scratch.isEmpty ? "." : scratch, progress: progress)
            return
        }
        let args = QemuImgArguments.convert(source: source, destination: destination, output: output)
        do {
            try await Subprocess.run("qemu-img", args, onStdoutLine: { line in
                if let fraction = QemuImgProgress.parse(line) { progress(fraction) }
            })
        } catch let failure as Subprocess.Failure {
            let reason = failure.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            let hint = reason.contains("No space left") ? "free space where the output directory is, or choose another --output-dir" : nil
            throw KilnError(.export, "qemu-img could not write \(destination): \(reason)", hint: hint)
        }
    }
}

/// qemu-img -p prints "    (12.34/100%)".
enum QemuImgProgress {
    static func parse(_ line: String) -> Double? {
        guard let open = line.firstIndex(of: "("), let slash = line.firstIndex(of: "/"), open < slash,
              let value = Double(line[line.index(after: open)..<slash].trimmingCharacters(in: .whitespaces))
        else { return nil }
        return min(max(value / 100, 0), 1)
    }
}
