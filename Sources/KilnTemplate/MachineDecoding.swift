import Foundation
import Yams

extension Decoding {
    static let machineKeys = ["cpus", "memory", "disk_size", "firmware", "accelerator", "connect", "kernel"]
    static let kernelKeys = ["path", "initrd", "cmdline"]
    static let sshKeys = ["username", "password", "private_key", "port", "timeout"]
    static let shutdownKeys = ["command", "timeout"]
    static let generalizeKeys = ["enabled", "keep", "delete", "compact"]

    /// `machine:` — memory is MiB when a bare number, or a size (`2G`) that is a whole number of MiB.
    func machine(_ entry: Entry?) -> MachineSpec? {
        var spec = MachineSpec(cpus: 2, memoryMiB: 1024, diskSize: nil, firmware: .bios, accelerator: .auto,
                               kernelBoot: nil, connect: "qemu:///system")
        guard let entry else { return spec }
        guard let fields = fields(entry.value, entry.path, allowed: Self.machineKeys) else { return nil }
        var ok = true
        func take<T>(_ key: String, _ read: (Entry) -> T?, _ apply: (T) -> Void) {
            guard let field = fields[key] else { return }
            if let value = read(field) { apply(value) } else { ok = false }
        }
        take("cpus", { self.integer($0, range: 1...256) }, { spec.cpus = $0 })
        take("memory", memoryMiB, { spec.memoryMiB = $0 })
        take("disk_size", { self.size($0, range: (1 << 20)...Self.maximumDiskBytes) }, { spec.diskSize = $0 })
        take("firmware", { self.choice($0, Firmware.self) }, { spec.firmware = $0 })
        take("accelerator", { self.choice($0, AcceleratorChoice.self) }, { spec.accelerator = $0 })
        take("connect", nonEmptyString, { spec.connect = $0 })
        take("kernel", kernelBoot, { spec.kernelBoot = $0 })
        return ok ? spec : nil
    }

    private func memoryMiB(_ entry: Entry) -> Int? {
        let mebibyte: UInt64 = 1 << 20
        guard let bytes = size(entry, bareUnit: mebibyte, range: (64 * mebibyte)...(1_048_576 * mebibyte)) else { return nil }
        guard bytes % mebibyte == 0 else {
            report(entry.value, entry.path, "memory must be a whole number of MiB")
            return nil
        }
        return Int(bytes / mebibyte)
    }

    private func kernelBoot(_ entry: Entry) -> KernelBoot? {
        guard let fields = fields(entry.value, entry.path, allowed: Self.kernelKeys) else { return nil }
        let kernel = hostPath(required(fields, "path"), kind: .file)
        let initrd = fields["initrd"].map { hostPath($0, kind: .file) }
        let cmdline = fields["cmdline"].map { string($0) } ?? ""
        guard let kernel, let cmdline, initrd.map({ $0 != nil }) ?? true else { return nil }
        return KernelBoot(kernel: kernel, initrd: initrd ?? nil, cmdline: cmdline)
    }

    /// `ssh:` — how Kiln logs in to the guest.
    func ssh(_ entry: Entry?) -> SSHSpec? {
        var spec = SSHSpec(username: "root", password: nil, privateKeyFile: nil, port: 22, timeout: .seconds(300))
        guard let entry else { return spec }
        guard let fields = fields(entry.value, entry.path, allowed: Self.sshKeys) else { return nil }
        var ok = true
        func take<T>(_ key: String, _ read: (Entry) -> T?, _ apply: (T) -> Void) {
            guard let field = fields[key] else { return }
            if let value = read(field) { apply(value) } else { ok = false }
        }
        take("username", nonEmptyString, { spec.username = $0 })
        take("password", { self.string($0) }, { spec.password = $0 })
        // The key decides how Kiln logs in, not what the image holds: identify it, don't hash it.
        take("private_key", { self.hostPath($0, kind: .file, hashContents: false) }, { spec.privateKeyFile = $0 })
        take("port", { self.integer($0, range: 1...65535) }, { spec.port = $0 })
        take("timeout", duration, { spec.timeout = $0 })
        return ok ? spec : nil
    }

    /// `shutdown:` — a command over SSH, or the ACPI power button when there is none.
    func shutdown(_ entry: Entry?) -> ShutdownSpec? {
        var spec = ShutdownSpec(command: nil, timeout: .seconds(120))
        guard let entry else { return spec }
        guard let fields = fields(entry.value, entry.path, allowed: Self.shutdownKeys) else { return nil }
        var ok = true
        if let command = fields["command"] {
            if let text = nonEmptyString(command) { spec.command = text } else { ok = false }
        }
        if let timeout = fields["timeout"] {
            if let value = duration(timeout) { spec.timeout = value } else { ok = false }
        }
        return ok ? spec : nil
    }

    /// `generalize:` — `true`, `false`, or a mapping; every operation runs unless listed in `keep`.
    func generalize(_ entry: Entry?) -> GeneralizeSpec? {
        let all = GeneralizeOperation.allCases
        var spec = GeneralizeSpec(enabled: true, operations: all, delete: [], compact: true)
        guard let entry else { return spec }
        if case .scalar = entry.value, !isNull(entry.value) {
            guard let enabled = bool(entry) else { return nil }
            spec.enabled = enabled
            return spec
        }
        guard let fields = fields(entry.value, entry.path, allowed: Self.generalizeKeys) else { return nil }
        var ok = true
        if let enabled = fields["enabled"] {
            if let value = bool(enabled) { spec.enabled = value } else { ok = false }
        }
        if let compact = fields["compact"] {
            if let value = bool(compact) { spec.compact = value } else { ok = false }
        }
        if let keep = fields["keep"] {
            if let names = stringItems(keep) {
                let kept = names.compactMap { choice($0.text, $0.node, $0.path, GeneralizeOperation.self) }
                if kept.count == names.count { spec.operations = all.filter { !kept.contains($0) } } else { ok = false }
            } else { ok = false }
        }
        if let delete = fields["delete"] {
            if let paths = stringItems(delete) {
                let checked = paths.compactMap { guestPath($0.node, $0.path, $0.text) }
                if checked.count == paths.count { spec.delete = checked } else { ok = false }
            } else { ok = false }
        }
        return ok ? spec : nil
    }
}
