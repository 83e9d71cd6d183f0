import Foundation
import Testing
import KilnCore
@testable import KilnDrivers

@Suite struct AcceleratorTests {
    /// A host where KVM works.
    static let usable = AcceleratorFacts(cpuFlags: ["fpu", "vmx", "sse2"], kvmDeviceExists: true,
                                         kvmDeviceReadWrite: true, kvmAPIVersion: 12, pvmModuleLoaded: false)

    static func with(_ change: (inout AcceleratorFacts) -> Void) -> AcceleratorFacts {
        var facts = usable
        change(&facts)
        return facts
    }

    @Test func autoPicksKVMWhenEverythingHolds() throws {
        let (accelerator, reason) = try AcceleratorProbe.choose(.auto, facts: Self.usable)
        #expect(accelerator == .kvm)
        #expect(reason == "kvm: the CPU has vmx and /dev/kvm is usable")
        let amd = try AcceleratorProbe.choose(.auto, facts: Self.with { $0.cpuFlags = ["svm"] })
        #expect(amd.0 == .kvm && amd.reason.contains("svm"))
    }

    @Test(arguments: [
        (with { $0.pvmModuleLoaded = true },
         "tcg: /dev/kvm is a nested PVM hypervisor (kvm_pvm loaded), which hangs stock kernels"),
        (with { $0.cpuFlags = ["fpu", "sse2"] },
         "tcg: the CPU has no vmx or svm flag (no hardware virtualization exposed to this machine)"),
        (with { $0.kvmDeviceExists = false; $0.kvmDeviceReadWrite = false; $0.kvmAPIVersion = nil },
         "tcg: /dev/kvm does not exist (is the kvm_intel or kvm_amd module loaded?)"),
        (with { $0.kvmDeviceReadWrite = false; $0.kvmAPIVersion = nil },
         "tcg: /dev/kvm is not readable and writable by this user (add it to the kvm group)"),
        (with { $0.kvmAPIVersion = nil }, "tcg: /dev/kvm could not be opened to ask its API version"),
        (with { $0.kvmAPIVersion = 11 }, "tcg: /dev/kvm reports KVM API version 11, expected 12"),
    ])
    func autoFallsBackToTCGWithTheReason(_ facts: AcceleratorFacts, _ expectedReason: String) throws {
        let (accelerator, reason) = try AcceleratorProbe.choose(.auto, facts: facts)
        #expect(accelerator == .tcg)
        #expect(reason == expectedReason)
    }

    @Test func pvmWinsOverEveryOtherProblem() throws {
        let facts = AcceleratorFacts(cpuFlags: [], kvmDeviceExists: false, kvmDeviceReadWrite: false,
                                     kvmAPIVersion: nil, pvmModuleLoaded: true)
        #expect(try AcceleratorProbe.choose(.auto, facts: facts).reason.contains("kvm_pvm"))
    }

    @Test func explicitKVMThatCannotWorkIsAHypervisorError() {
        let facts = Self.with { $0.pvmModuleLoaded = true }
        let error = #expect(throws: KilnError.self) { try AcceleratorProbe.choose(.kvm, facts: facts) }
        #expect(error?.code == .hypervisor)
        #expect(error?.message.contains("nested PVM hypervisor (kvm_pvm loaded)") == true)
        #expect(error?.hint?.contains("tcg") == true)
    }

    @Test func explicitKVMThatWorksIsKVM() throws {
        #expect(try AcceleratorProbe.choose(.kvm, facts: Self.usable).0 == .kvm)
    }

    @Test func tcgAlwaysWorks() throws {
        let nothing = AcceleratorFacts(cpuFlags: [], kvmDeviceExists: false, kvmDeviceReadWrite: false,
                                       kvmAPIVersion: nil, pvmModuleLoaded: true)
        for facts in [Self.usable, nothing] {
            let (accelerator, reason) = try AcceleratorProbe.choose(.tcg, facts: facts)
            #expect(accelerator == .tcg)
            #expect(reason == "tcg: requested by the template")
        }
    }

    @Test func readsTheFlagsOfTheFirstProcessor() {
        let cpuinfo = """
            processor\t: 0
            vendor_id\t: GenuineIntel
            flags\t\t: fpu vme de pse vmx sse2
            bugs\t\t: spectre_v1

            processor\t: 1
            flags\t\t: fpu svm
            """
        #expect(AcceleratorProbe.cpuFlags(fromCPUInfo: cpuinfo) == ["fpu", "vme", "de", "pse", "vmx", "sse2"])
        #expect(AcceleratorProbe.cpuFlags(fromCPUInfo: "") == [])
    }

    @Test func readsFactsFromInjectedFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-test-accel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cpuinfo = directory.appendingPathComponent("cpuinfo")
        try "processor\t: 0\nflags\t\t: fpu svm\n".write(to: cpuinfo, atomically: true, encoding: .utf8)
        let pvm = directory.appendingPathComponent("kvm_pvm")
        try FileManager.default.createDirectory(at: pvm, withIntermediateDirectories: true)

        let facts = AcceleratorProbe.readFacts(cpuinfoPath: cpuinfo.path,
                                               kvmDevicePath: directory.appendingPathComponent("kvm").path,
                                               pvmModulePath: pvm.path)
        #expect(facts == AcceleratorFacts(cpuFlags: ["fpu", "svm"], kvmDeviceExists: false, kvmDeviceReadWrite: false,
                                          kvmAPIVersion: nil, pvmModuleLoaded: true))
    }

    @Test func thisHostGetsAnAnswer() async throws {
        let (accelerator, reason) = try await LibvirtHypervisor().chooseAccelerator(.auto)
        #expect(reason.hasPrefix("\(accelerator.rawValue): "))
        if FileManager.default.fileExists(atPath: "/sys/module/kvm_pvm") {
            #expect(accelerator == .tcg)
        }
    }
}
