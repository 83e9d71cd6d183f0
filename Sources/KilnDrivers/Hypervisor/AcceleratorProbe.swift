import Foundation
import KilnCore
import KilnTemplate

/// What the host says about hardware virtualization, read once per choice.
public struct AcceleratorFacts: Sendable, Equatable {
    /// Flags of the first processor in /proc/cpuinfo.
    public var cpuFlags: Set<String>
    public var kvmDeviceExists: Bool
    /// access(2) R_OK|W_OK on /dev/kvm for this process.
    public var kvmDeviceReadWrite: Bool
    /// KVM_GET_API_VERSION on an opened /dev/kvm; nil when it could not be opened or asked.
    public var kvmAPIVersion: Int32?
    /// /sys/module/kvm_pvm exists: /dev/kvm is served by a nested PVM hypervisor.
    public var pvmModuleLoaded: Bool

    public init(cpuFlags: Set<String>, kvmDeviceExists: Bool, kvmDeviceReadWrite: Bool,
                kvmAPIVersion: Int32?, pvmModuleLoaded: Bool) {
        self.cpuFlags = cpuFlags
        self.kvmDeviceExists = kvmDeviceExists
        self.kvmDeviceReadWrite = kvmDeviceReadWrite
        self.kvmAPIVersion = kvmAPIVersion
        self.pvmModuleLoaded = pvmModuleLoaded
    }
}

/// Decides between KVM and TCG. `choose` is pure; `readFacts` reads the host.
public enum AcceleratorProbe {
    /// The only KVM API version Linux has ever shipped.
    static let expectedKVMAPIVersion: Int32 = 12

    public static func choose(_ choice: AcceleratorChoice, facts: AcceleratorFacts) throws -> (Accelerator, reason: String) {
        switch choice {
        case .tcg:
            return (.tcg, "tcg: requested by the template")
        case .auto:
            if let problem = kvmProblem(facts) { return (.tcg, "tcg: \(problem)") }
            return (.kvm, "kvm: \(kvmEvidence(facts))")
        case .kvm:
            if let problem = kvmProblem(facts) {
                throw KilnError(.hypervisor, "accelerator kvm was requested but cannot be used: \(problem)",
                                hint: "set machine.accelerator to auto or tcg (TCG is slower but always works)")
            }
            return (.kvm, "kvm: requested by the template; \(kvmEvidence(facts))")
        }
    }

    /// Why KVM cannot be used, or nil when it can. The PVM check comes first: such a host has a
    /// working-looking /dev/kvm (libvirt even lists kvm) that hangs stock kernels early in boot.
    static func kvmProblem(_ facts: AcceleratorFacts) -> String? {
        if facts.pvmModuleLoaded {
            return "/dev/kvm is a nested PVM hypervisor (kvm_pvm loaded), which hangs stock kernels"
        }
        if !facts.cpuFlags.contains("vmx") && !facts.cpuFlags.contains("svm") {
            return "the CPU has no vmx or svm flag (no hardware virtualization exposed to this machine)"
        }
        if !facts.kvmDeviceExists {
            return "/dev/kvm does not exist (is the kvm_intel or kvm_amd module loaded?)"
        }
        if !facts.kvmDeviceReadWrite {
            return "/dev/kvm is not readable and writable by this user (add it to the kvm group)"
        }
        guard let version = facts.kvmAPIVersion else {
            return "/dev/kvm could not be opened to ask its API version"
        }
        if version != expectedKVMAPIVersion {
            return "/dev/kvm reports KVM API version \(version), expected \(expectedKVMAPIVersion)"
        }
        return nil
    }

    private static func kvmEvidence(_ facts: AcceleratorFacts) -> String {
        let flag = facts.cpuFlags.contains("vmx") ? "vmx" : "svm"
        return "the CPU has \(flag) and /dev/kvm is usable"
    }

    /// The flags of the first processor listed in /proc/cpuinfo's text.
    public static func cpuFlags(fromCPUInfo text: String) -> Set<String> {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "flags" else { continue }
            return Set(parts[1].split(separator: " ").map(String.init))
        }
        return []
    }

    /// Reads the facts from this host (paths overridable for tests).
    public static func readFacts(cpuinfoPath: String = "/proc/cpuinfo", kvmDevicePath: String = "/dev/kvm",
                                 pvmModulePath: String = "/sys/module/kvm_pvm") -> AcceleratorFacts {
        let cpuinfo = (try? String(contentsOfFile: cpuinfoPath, encoding: .utf8)) ?? ""
        let exists = FileManager.default.fileExists(atPath: kvmDevicePath)
        let readWrite = exists && access(kvmDevicePath, R_OK | W_OK) == 0
        return AcceleratorFacts(
            cpuFlags: cpuFlags(fromCPUInfo: cpuinfo),
            kvmDeviceExists: exists,
            kvmDeviceReadWrite: readWrite,
            kvmAPIVersion: readWrite ? kvmAPIVersion(devicePath: kvmDevicePath) : nil,
            pvmModuleLoaded: FileManager.default.fileExists(atPath: pvmModulePath))
    }

    /// KVM_GET_API_VERSION, i.e. _IO(0xAE, 0x00): a cheap proof that the device is really KVM.
    private static func kvmAPIVersion(devicePath: String) -> Int32? {
        let fd = open(devicePath, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let version = ioctl(fd, 0xAE00)
        return version >= 0 ? version : nil
    }
}

extension AcceleratorProbe {
    /// For a hypervisor on another host, whose CPU and /dev/kvm Kiln cannot look at: KVM when
    /// that host's libvirt offers it (its capabilities list a kvm domain type).
    public static func chooseRemote(_ choice: AcceleratorChoice, host: String, offersKVM: Bool) throws -> (Accelerator, reason: String) {
        switch choice {
        case .tcg:
            return (.tcg, "tcg: requested by the template")
        case .auto:
            return offersKVM ? (.kvm, "kvm: libvirt on \(host) offers it (its CPU cannot be checked from here; set machine.accelerator: tcg if guests hang there)")
                             : (.tcg, "tcg: libvirt on \(host) offers no kvm")
        case .kvm:
            guard offersKVM else {
                throw KilnError(.hypervisor, "accelerator kvm was requested but libvirt on \(host) does not offer it",
                                hint: "set machine.accelerator to auto or tcg (TCG is slower but always works)")
            }
            return (.kvm, "kvm: requested by the template; libvirt on \(host) offers it")
        }
    }

    /// Whether a capabilities document lists a kvm domain type.
    public static func capabilitiesOfferKVM(_ xml: String) -> Bool {
        xml.contains("<domain type='kvm'") || xml.contains("<domain type=\"kvm\"")
    }
}
