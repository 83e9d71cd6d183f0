import Crypto
import Foundation
import KilnTemplate

/// The step cache's keys for one build: each key is a hash of its parent's key and of everything
/// that decides what the step does to the disk (its definition, interpolated, and the contents of
/// the host files it reads). The chain starts from the base image and the machine settings that
/// shape the disk, and stops at the first provisioner marked `cache: false`.
public struct StepCacheKeys: Sendable, Equatable {
    /// The disk after each provisioner, by index in `build.provisioners`, up to the first uncached one.
    public var afterProvisioner: [String]
    /// The finished disk (after shutdown, trailing offline steps, generalize); nil when a step opts out.
    public var final: String?

    public init(build: BuildSpec, base: ResolvedBase, seed: SeedPlan) {
        var parent = Self.digest(["kiln-step-cache-v1", Self.baseIdentity(build.source, base),
                                  "size=\(build.machine.diskSize.map(String.init) ?? "-")",
                                  "firmware=\(build.machine.firmware.rawValue)",
                                  "kernel=\(build.machine.kernelBoot.map { [$0.kernel, $0.initrd ?? "-", $0.cmdline].joined(separator: "|") } ?? "-")",
                                  "seed=\(seed)", "user=\(build.ssh.username)"])
        var keys: [String] = []
        var complete = true
        for spec in build.provisioners {
            guard spec.cache else { complete = false; break }
            parent = Self.digest([parent] + Self.describe(spec.kind))
            keys.append(parent)
        }
        afterProvisioner = keys
        final = complete ? Self.digest([parent, "final", "shutdown=\(build.shutdown.command ?? "acpi")",
                                        "generalize=\(build.generalize.enabled)",
                                        build.generalize.operations.map(\.rawValue).sorted().joined(separator: ","),
                                        build.generalize.delete.joined(separator: "\u{0}"),
                                        "compact=\(build.generalize.compact)"]) : nil
    }

    /// Bootstrapped and downloaded images live in the cache under names derived from their recipe or
    /// URL; a local image may change in place, so its size and modification time count too.
    static func baseIdentity(_ source: SourceSpec, _ base: ResolvedBase) -> String {
        switch source {
        case .bootstrap(let spec):
            return "bootstrap \(spec.distribution) \(spec.suite) \(spec.mirror) \(spec.bootloader.rawValue) \(spec.size) "
                + spec.packages.sorted().joined(separator: ",") + " " + HostFileDigest.identity(base.path)
        case .url(let url):
            return "url \(url.url) \(url.checksum) " + HostFileDigest.identity(base.path)
        case .image(let path):
            return "image " + HostFileDigest.identity(path)
        case .build(let reference):
            return "build \(reference.description) " + HostFileDigest.identity(base.path)
        }
    }

    /// Every field of a provisioner, in a fixed order (dictionaries sorted), with file contents digested.
    static func describe(_ kind: ProvisionerKind) -> [String] {
        switch kind {
        case .shell(let step):
            let body: [String]
            switch step.body {
            case .inline(let text): body = ["inline", text]
            case .scripts(let paths): body = ["scripts"] + paths.flatMap { [$0, HostFileDigest.tree($0)] }
            }
            return ["shell"] + body + step.env.keys.sorted().map { "env \($0)=\(step.env[$0]!)" }
                + ["cwd=\(step.workingDirectory ?? "-")", "exec=\(step.executeCommand)",
                   "disconnect=\(step.expectDisconnect)"]
        case .file(let upload):
            return ["file", upload.source, HostFileDigest.tree(upload.source), upload.destination, "dir=\(upload.isDirectory)"]
        case .reboot:
            return ["reboot"]
        case .write(let path, let content, let mode):
            return ["write", path, content, "mode=\(mode.map { String($0, radix: 8) } ?? "-")"]
        case .upload(let source, let destination):
            return ["upload", source, HostFileDigest.tree(source), destination]
        case .delete(let paths):
            return ["delete"] + paths
        case .runCommand(let command):
            return ["run_command", command]
        case .hostname(let name):
            return ["hostname", name]
        case .rootPassword(let password):
            return ["root_password", password]
        }
    }

    static func digest(_ parts: [String]) -> String {
        var hasher = SHA256()
        for part in parts {
            hasher.update(data: Array("\(part.utf8.count):".utf8))
            hasher.update(data: Array(part.utf8))
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
