import Foundation
import Testing
import KilnCore
@testable import KilnDrivers
@testable import KilnTemplate

@Suite struct PackagingUnitTests {
    static let machine = MachineSpec(cpus: 2, memoryMiB: 2048, diskSize: nil, firmware: .bios, accelerator: .auto,
                                     kernelBoot: nil, connect: "qemu:///system")

    @Test func libvirtMetadataRoundsVirtualSizeUpToGiB() {
        #expect(VagrantBoxFiles.metadata(provider: .libvirt, virtualSize: 10 << 30)
                == #"{"provider":"libvirt","format":"qcow2","virtual_size":10}"# + "\n")
        #expect(VagrantBoxFiles.metadata(provider: .libvirt, virtualSize: (10 << 30) + 1)
                == #"{"provider":"libvirt","format":"qcow2","virtual_size":11}"# + "\n")
        #expect(VagrantBoxFiles.metadata(provider: .virtualbox, virtualSize: 1) == #"{"provider":"virtualbox"}"# + "\n")
    }

    @Test func vagrantfilesSetMachineDefaults() {
        #expect(VagrantBoxFiles.vagrantfile(provider: .libvirt, machine: Self.machine, boxName: "web") == """
            # Defaults of the box web, built by Kiln; a project's Vagrantfile overrides them.
            Vagrant.configure("2") do |config|
              config.vm.provider :libvirt do |libvirt|
                libvirt.driver = "kvm"
                libvirt.memory = 2048
                libvirt.cpus = 2
              end
            end

            """)
        let virtualbox = VagrantBoxFiles.vagrantfile(provider: .virtualbox, machine: Self.machine, boxName: "web")
        #expect(virtualbox.contains(#"config.vm.base_mac = "\#(VagrantBoxFiles.baseMAC("web"))""#))
        #expect(!virtualbox.contains("--firmware"))
        #expect(VagrantBoxFiles.baseMAC("web").count == 12)
        #expect(VagrantBoxFiles.baseMAC("web").hasPrefix("080027"))
        #expect(VagrantBoxFiles.baseMAC("web") != VagrantBoxFiles.baseMAC("db"))
    }

    @Test func conversionArguments() {
        #expect(PackageDiskConversion.standaloneQcow2Arguments(source: "/w/d", destination: "/s/box.img", compress: false)
                == ["convert", "-p", "-f", "qcow2", "-O", "qcow2", "-m", "8", "-W", "/w/d", "/s/box.img"])
        #expect(PackageDiskConversion.standaloneQcow2Arguments(source: "/w/d", destination: "/s/box.img", compress: true)
                == ["convert", "-p", "-f", "qcow2", "-O", "qcow2", "-c", "/w/d", "/s/box.img"])
    }

    @Test func progressStagesMapOntoTheirShare() {
        let log = ProgressLog()
        let progress = PackageProgress(report: { log.record($0) })
        progress.stage(0.5, 0.7)(0.5)
        progress.stage(0.5, 0.7)(2)
        progress.bytes(0.8, 1, total: 4)(1)
        progress.bytes(0.8, 1, total: 0)(0)
        let values = log.all
        #expect(values.count == 4)
        #expect(abs(values[0] - 0.6) < 1e-9 && abs(values[1] - 0.7) < 1e-9)
        #expect(abs(values[2] - 0.85) < 1e-9 && abs(values[3] - 1) < 1e-9)
    }

    @Test func cancellingBlockingWorkRaisesTheFlag() async throws {
        let task = Task {
            try await BlockingWork.run { flag in
                let deadline = Date().addingTimeInterval(10)
                while !flag.isRaised && Date() < deadline { usleep(1000) }
                if flag.isRaised { throw CancellationError() }
                return 0
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}
