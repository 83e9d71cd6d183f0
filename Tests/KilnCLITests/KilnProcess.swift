import Foundation
import Testing

/// Runs the built `kiln` binary (and other tools) the way a user or a CI job would.
enum Repo {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var kiln: String {
        let debug = root + "/.build/debug/kiln"
        return FileManager.default.isExecutableFile(atPath: debug) ? debug : root + "/.build/x86_64-unknown-linux-gnu/debug/kiln"
    }

    static let integration = ProcessInfo.processInfo.environment["KILN_INTEGRATION"] == "1"
}

struct ProcessOutput {
    var status: Int32
    var stdout: String
    var stderr: String
    var combined: String { stdout + stderr }
}

/// A started process whose output is collected in files (no pipe can fill up and block it).
final class RunningProcess: @unchecked Sendable {
    let process = Process()
    private let outPath: String
    private let errPath: String

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil) throws {
        let base = NSTemporaryDirectory() + "kiln-cli-\(UUID().uuidString.prefix(8))"
        outPath = base + ".out"
        errPath = base + ".err"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // Tests that are not about the step cache must run every step: they opt in with KILN_NO_CACHE=0.
        process.environment = ProcessInfo.processInfo.environment.merging(["KILN_NO_CACHE": "1"]) { $1 }
            .merging(environment) { $1 }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var stdoutSoFar: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to exit, killing it after `timeout`.
    func wait(timeout: Duration = .seconds(600)) async -> ProcessOutput {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
                Issue.record("process timed out after \(timeout): \(process.arguments ?? [])")
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        process.waitUntilExit()
        let output = ProcessOutput(status: process.terminationStatus, stdout: stdoutSoFar,
                                   stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
        return output
    }

    /// Polls stdout until `text` appears (or the process ends / time runs out).
    func waitForOutput(containing text: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if stdoutSoFar.contains(text) { return true }
            if !process.isRunning { return false }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}

func runKiln(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
             timeout: Duration = .seconds(900)) async throws -> ProcessOutput {
    try await RunningProcess(Repo.kiln, arguments, environment: environment, directory: directory).wait(timeout: timeout)
}

func runTool(_ executable: String, _ arguments: [String]) async throws -> ProcessOutput {
    // libguestfs picks KVM where /dev/kvm exists and aborts on a nested PVM hypervisor.
    try await RunningProcess(executable, arguments, environment: ["LIBGUESTFS_BACKEND_SETTINGS": "force_tcg"])
        .wait(timeout: .seconds(300))
}

/// Kiln's libvirt domains currently defined (the tests must leave none), optionally only those of
/// one build name, or only those whose work directory is under `under` (a test's own directory),
/// so that other kiln runs on the machine, the same tests of another checkout included, do not
/// disturb the check.
func kilnDomains(build: String? = nil, under directory: String? = nil) async throws -> [String] {
    let output = try await runTool("/usr/bin/virsh", ["-c", "qemu:///system", "list", "--all", "--name"])
    let prefix = build.map { "kiln-\($0)-" } ?? "kiln-"
    let names = output.stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
    guard let directory else { return names }
    var mine: [String] = []
    for name in names {
        let xml = try await runTool("/usr/bin/virsh", ["-c", "qemu:///system", "dumpxml", name]).stdout
        // A domain that vanished between the two calls has no XML: it is gone, not ours.
        if xml.contains("<kiln:workdir>\(directory)/") { mine.append(name) }
    }
    return mine
}

/// A temporary directory for one test's outputs and work, removed afterwards.
struct TempDirectory {
    let path: String
    init() throws {
        path = "/var/tmp/kiln-cli-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
    func contents(_ sub: String = "") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path + sub)) ?? []).sorted()
    }
}

/// The tiny test image (scripts/build-test-image) as a build's `source`, `machine` and `seed`.
enum TinyGuest {
    static let images = ProcessInfo.processInfo.environment["KILN_TEST_IMAGES"] ?? "/var/tmp/kiln-test-images"

    /// The lines to put after a build's `name:`, the first one unindented (it follows the
    /// interpolation's own indentation) and the others indented by `indent` spaces.
    static func buildLines(indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        return [
            "source: { image: \(images)/tiny.qcow2 }",
            "machine:",
            "  cpus: 1",
            "  memory: 256",
            // no_timer_check: a kernel under TCG on a loaded host can fail its timer check and panic.
            "  kernel: { path: \(images)/vmlinuz, initrd: \(images)/tiny-initrd.gz, cmdline: \"console=ttyS0 quiet no_timer_check\" }",
            "seed: credentials",
        ].enumerated().map { $0.offset == 0 ? $0.element : pad + $0.element }.joined(separator: "\n")
    }
}
