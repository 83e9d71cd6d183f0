import Foundation
import KilnCore
@testable import KilnDrivers
@testable import KilnTemplate

/// A temporary directory removed when the test's closure returns or throws.
func withPackagingDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-packaging-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Runs a host tool and returns its stdout (throws on a non-zero status).
@discardableResult
func packagingRun(_ tool: String, _ arguments: [String], in directory: String? = nil) async throws -> String {
    try await Subprocess.run(tool, arguments, currentDirectory: directory).stdoutText
}

/// The member names of a tar archive, in order.
func tarMembers(_ archive: String) async throws -> [String] {
    try await packagingRun("tar", ["-tf", archive]).split(separator: "\n").map(String.init)
}

/// A 64 MiB qcow2 whose first MiB is 0x5a, on top of a backing file whose second MiB is 0xa5,
/// so a standalone copy must merge both.
func makePackagingSourceDisk(in directory: String) async throws -> String {
    let base = directory + "/base.qcow2", disk = directory + "/work.qcow2"
    try await packagingRun("qemu-img", ["create", "-q", "-f", "qcow2", base, "64M"])
    try await packagingRun("qemu-io", ["-c", "write -P 0xa5 1M 1M", base])
    try await packagingRun("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, disk])
    try await packagingRun("qemu-io", ["-c", "write -P 0x5a 0 1M", disk])
    return disk
}

func packagingRequest(disk: String, format: OutputFormat, provider: VagrantProvider = .libvirt,
                      name: String = "kiln-test", firmware: Firmware = .bios, in directory: String) throws -> PackageRequest {
    let output = OutputSpec(format: format, compress: false, vmdkSubformat: .streamOptimized, fixed: false,
                            vagrantProvider: provider, location: SourceLocation(file: "kiln.yaml", line: 1, column: 1))
    let machine = MachineSpec(cpus: 3, memoryMiB: 768, diskSize: nil, firmware: firmware, accelerator: .auto,
                              kernelBoot: nil, connect: "qemu:///system")
    let scratch = directory + "/scratch"
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    return PackageRequest(disk: disk, output: output, name: name, machine: machine,
                          destination: directory + "/artifact.partial", scratch: scratch)
}

/// Records progress fractions reported from any thread.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Double] = []
    func record(_ value: Double) { lock.withLock { values.append(value) } }
    var all: [Double] { lock.withLock { values } }
}
