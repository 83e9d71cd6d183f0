import Foundation
import KilnTemplate

/// The text `kiln inspect` prints: the resolved plan, sensitive values masked.
public enum PlanDescription {
    public static func render(_ template: Template, displayPath: String, plans: [BuildPlan],
                              generalizeLines: (GeneralizeSpec) -> [String]) -> String {
        let redact = Redactor(template.secrets)
        var out: [String] = []
        out.append("template: \(displayPath)")
        out.append("hash: sha256:\(template.contentHash)")
        if !template.variables.isEmpty {
            out.append("variables:")
            for variable in template.variables.sorted(by: { $0.name < $1.name }) {
                let value = variable.sensitive ? "<sensitive>" : "\"\(variable.value)\""
                out.append("  \(variable.name) (\(variable.type.rawValue)) = \(value)")
            }
        }
        for plan in plans {
            let build = plan.build
            out.append("build \"\(build.name)\":")
            out.append("  source: \(describe(build.source))")
            var machine = "\(build.machine.cpus) cpu\(build.machine.cpus == 1 ? "" : "s"), \(build.machine.memoryMiB) MiB"
            if let size = build.machine.diskSize { machine += ", disk \(ByteFormat.string(size))" }
            machine += ", \(build.machine.firmware.rawValue), accelerator \(build.machine.accelerator.rawValue)"
            if let kernel = build.machine.kernelBoot { machine += ", kernel \(kernel.kernel)" }
            out.append("  machine: \(machine)")
            if plan.boots {
                out.append("  ssh: \(build.ssh.username)@guest:\(build.ssh.port), timeout \(DurationFormat.string(build.ssh.timeout)), seed: \(describe(plan.seed, method: build.seed))")
            } else {
                out.append("  boots: no (every provisioner works offline)")
            }
            out.append("  steps:")
            for (index, step) in plan.steps.enumerated() {
                out.append("    \(index + 1). \(describe(step))")
            }
            if build.generalize.enabled {
                out.append("  generalize:")
                out += generalizeLines(build.generalize).map { "    - " + $0 }
            } else {
                out.append("  generalize: off")
            }
            out.append("  outputs:")
            for output in build.outputs {
                out.append("    - \(ExportNaming.fileName(build: build.name, output: output)) (\(describe(output)))")
            }
            out.append("    - SHA256SUMS, manifest.json")
            out.append("  output directory: \(build.outputDirectory)")
            if let ami = build.publish?.ami {
                out.append("  publish: AMI \"\(ami.name)\" in \(ami.region ?? "the default region") (\(ami.method.rawValue))")
                out += rolloutLines(ami).map { "    " + $0 }
            }
        }
        // Masked as a whole: any line can quote a template value (a path, a URL, a title).
        return redact(out.joined(separator: "\n") + "\n")
    }

    static func describe(_ source: SourceSpec) -> String {
        switch source {
        case .image(let path): return "image \(path)"
        case .url(let url):
            let checksum: String
            switch url.checksum {
            case .value(let algorithm, let hex): checksum = "\(algorithm.rawValue):\(hex.prefix(12))…"
            case .file(let sums): checksum = "from \(sums)"
            case .none: checksum = "not verified"
            }
            return "url \(url.url) (checksum \(checksum))"
        case .bootstrap(let spec):
            let packages = spec.packages.isEmpty ? "" : "packages: \(spec.packages.joined(separator: " ")); "
            return "bootstrap \(spec.distribution)/\(spec.suite) (\(packages)bootloader \(spec.bootloader.rawValue); \(ByteFormat.string(spec.size)))"
        case .build(let reference):
            return "the output of build \(reference.description) (built first, or reused when up to date)"
        }
    }

    static func describe(_ seed: SeedPlan, method: SeedMethod) -> String {
        let how: String
        switch seed {
        case .credentials: how = "systemd credentials over SMBIOS"
        case .guestfs: how = "libguestfs"
        case .none: how = "none (the image's own login)"
        }
        return method == .auto ? "auto -> \(how)" : how
    }

    static func describe(_ step: PlannedStep) -> String {
        switch step {
        case .resolveBase: return "base image: find, download or bootstrap; verify"
        case .createWorkDisk(let size):
            return "work disk: qcow2 overlay" + (size.map { " grown to \(ByteFormat.string($0))" } ?? "")
        case .offlinePrepare(let seed, let steps):
            var parts: [String] = []
            if seed { parts.append("seed key and host key") }
            parts += steps.map(\.title)
            return "offline (libguestfs): " + parts.joined(separator: ", ")
        case .boot: return "boot (libvirt)"
        case .waitForSSH: return "wait for ssh"
        case .provision(let spec): return "provision: \(spec.title)"
        case .shutdown: return "shutdown"
        case .offlineFinish(let steps, let generalize):
            var parts = steps.map(\.title)
            if generalize.enabled { parts.append("generalize") }
            if generalize.enabled && generalize.compact { parts.append("compact") }
            parts.append("inspect")
            return "offline (libguestfs): " + parts.joined(separator: ", ")
        case .export(let outputs): return "export: " + outputs.map(\.format.rawValue).joined(separator: ", ")
        case .publish(let ami): return "publish: AMI \(ami.name) (\(ami.method.rawValue))"
        case .writeManifest: return "checksums and manifest; move outputs into place"
        }
    }

    static func describe(_ output: OutputSpec) -> String {
        switch output.format {
        case .qcow2: return output.compress ? "qcow2, compressed" : "qcow2"
        case .vmdk: return "vmdk, \(output.vmdkSubformat.rawValue)"
        case .vhd: return output.fixed ? "vhd, fixed" : "vhd, dynamic"
        case .vagrant: return "vagrant box, \(output.vagrantProvider.rawValue)"
        default: return output.format.rawValue
        }
    }
}
