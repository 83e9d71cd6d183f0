import Foundation
import Testing
@testable import KilnTemplate

@Suite struct SourceTests {
    @Test func bootstrapIsTheDefault() throws {
        #expect(try Support.build("builds: [{ name: web }]").source == .bootstrap(BootstrapSpec()))
    }

    @Test func bootstrapOptions() throws {
        let build = try Support.build("""
        builds:
          - name: web
            source:
              bootstrap: { suite: trixie, packages: [curl, nginx], mirror: "http://127.0.0.1/debian", bootloader: extlinux, size: 3G }
        """)
        #expect(build.source == .bootstrap(BootstrapSpec(suite: "trixie", packages: ["curl", "nginx"],
                                                         mirror: "http://127.0.0.1/debian", bootloader: .extlinux,
                                                         size: 3 << 30)))
    }

    @Test func imageIsResolvedAgainstTheTemplateDirectory() throws {
        let build = try Support.build("builds: [{ name: web, source: { image: ../images/base.qcow2 } }]")
        #expect(build.source == .image(path: "/images/base.qcow2"))
        let home = try Support.build("builds: [{ name: web, source: { image: ~/base.img } }]")
        #expect(home.source == .image(path: "/home/test/base.img"))
    }

    @Test func urlWithEachKindOfChecksum() throws {
        let hex = String(repeating: "aB", count: 32)
        func source(_ checksum: String) throws -> SourceSpec {
            try Support.build("builds: [{ name: web, source: { url: \"https://example.org/d.qcow2\", checksum: \"\(checksum)\" } }]").source
        }
        #expect(try source("sha256:\(hex)") == .url(URLSource(url: "https://example.org/d.qcow2",
                                                                checksum: .value(.sha256, hex: hex.lowercased()))))
        let long = String(repeating: "0", count: 128)
        #expect(try source("sha512:\(long)") == .url(URLSource(url: "https://example.org/d.qcow2", checksum: .value(.sha512, hex: long))))
        #expect(try source("file:https://example.org/SHA256SUMS")
                == .url(URLSource(url: "https://example.org/d.qcow2", checksum: .file(url: "https://example.org/SHA256SUMS"))))
        #expect(try source("none") == .url(URLSource(url: "https://example.org/d.qcow2", checksum: .none)))
    }

    @Test func checksumBelongsToUrlSourcesOnly() {
        #expect(Support.errors("builds: [{ name: web, source: { image: a.img, checksum: none } }]")
                == ["/tmpl/t.yaml:1:47: builds[0].source.checksum: only a url source has a checksum"])
    }
}

@Suite struct MachineTests {
    @Test func defaults() throws {
        let build = try Support.build("builds: [{ name: web }]")
        #expect(build.machine == MachineSpec(cpus: 2, memoryMiB: 1024, diskSize: nil, firmware: .bios, accelerator: .auto,
                                             kernelBoot: nil, connect: "qemu:///system"))
        #expect(build.ssh == SSHSpec(username: "root", password: nil, privateKeyFile: nil, port: 22, timeout: .seconds(300)))
        #expect(build.seed == .auto)
        #expect(build.shutdown == ShutdownSpec(command: nil, timeout: .seconds(120)))
        #expect(build.generalize == GeneralizeSpec(enabled: true, operations: GeneralizeOperation.allCases, delete: [], compact: true))
        #expect(build.outputs.map(\.format) == [.qcow2])
        #expect(build.publish == nil)
    }

    @Test func everyMachineKey() throws {
        let build = try Support.build("""
        builds:
          - name: web
            machine:
              cpus: 4
              memory: 2G
              disk_size: 10GB
              firmware: uefi
              accelerator: tcg
              connect: "qemu:///session"
              kernel: { path: boot/vmlinuz, initrd: boot/initrd.gz, cmdline: "console=ttyS0" }
            ssh: { username: admin, password: pw, private_key: ~/.ssh/id_ed25519, port: 2222, timeout: 90s }
            seed: guestfs
            shutdown: { command: "systemctl poweroff", timeout: 1m }
            generalize: { keep: [logs, machine-id], delete: ["/var/lib/foo/*"], compact: false }
        """)
        #expect(build.machine == MachineSpec(cpus: 4, memoryMiB: 2048, diskSize: 10 << 30, firmware: .uefi, accelerator: .tcg,
                                             kernelBoot: KernelBoot(kernel: "/tmpl/boot/vmlinuz", initrd: "/tmpl/boot/initrd.gz",
                                                                    cmdline: "console=ttyS0"),
                                             connect: "qemu:///session"))
        #expect(build.ssh == SSHSpec(username: "admin", password: "pw", privateKeyFile: "/home/test/.ssh/id_ed25519",
                                     port: 2222, timeout: .seconds(90)))
        #expect(build.seed == .guestfs)
        #expect(build.shutdown == ShutdownSpec(command: "systemctl poweroff", timeout: .seconds(60)))
        #expect(build.generalize.operations == GeneralizeOperation.allCases.filter { $0 != .logs && $0 != .machineID })
        #expect(build.generalize.delete == ["/var/lib/foo/*"])
        #expect(build.generalize.compact == false)
    }

    @Test func generalizeMayBeABoolean() throws {
        #expect(try Support.build("builds: [{ name: web, generalize: false }]").generalize.enabled == false)
        #expect(try Support.build("builds: [{ name: web, generalize: true }]").generalize.enabled == true)
    }

    @Test func numbersMayComeFromVariables() throws {
        let build = try Support.build("""
        variables: { cpus: { type: number, default: 3 } }
        builds: [{ name: web, machine: { cpus: "${var.cpus}", memory: "${var.cpus}G" } }]
        """)
        #expect(build.machine.cpus == 3)
        #expect(build.machine.memoryMiB == 3072)
    }
}

@Suite struct ProvisionerTests {
    static let yaml = """
    builds:
      - name: web
        provisioners:
          - shell: "echo hi"
          - shell: ["set -x", "echo two"]
            env: { A: "1", B: "${build.name}" }
            working_directory: /tmp
            execute_command: "sudo -E sh -e '{{path}}'"
            expect_disconnect: true
            timeout: 10m
          - script: scripts/a.sh
          - scripts: [a.sh, b.sh]
          - file: { source: files/site/, destination: /var/www/html/ }
          - reboot: { timeout: 2m }
          - reboot: {}
          - reboot
          - write: { path: /etc/motd, content: "hello", mode: "0644" }
          - upload: { source: files/x, destination: /opt/x }
          - delete: /var/cache/foo
          - delete: [/a, /b]
          - run_command: "apt-get clean"
          - hostname: web01
          - root_password: "secret"
    """

    @Test func everyKind() throws {
        let provisioners = try Support.build(Self.yaml).provisioners
        let shell = ShellStep(body: .inline("echo hi"), env: [:], workingDirectory: nil, executeCommand: "sh -e '{{path}}'",
                              expectDisconnect: false, timeout: nil)
        var custom = shell
        custom.body = .inline("set -x\necho two")
        custom.env = ["A": "1", "B": "web"]
        custom.workingDirectory = "/tmp"
        custom.executeCommand = "sudo -E sh -e '{{path}}'"
        custom.expectDisconnect = true
        custom.timeout = .seconds(600)
        var script = shell
        script.body = .scripts(["/tmpl/scripts/a.sh"])
        var scripts = shell
        scripts.body = .scripts(["/tmpl/a.sh", "/tmpl/b.sh"])
        #expect(provisioners.map(\.kind) == [
            .shell(shell), .shell(custom), .shell(script), .shell(scripts),
            .file(FileUpload(source: "/tmpl/files/site/", destination: "/var/www/html/", isDirectory: true)),
            .reboot(timeout: .seconds(120)), .reboot(timeout: .seconds(300)), .reboot(timeout: .seconds(300)),
            .write(path: "/etc/motd", content: "hello", mode: 0o644),
            .upload(source: "/tmpl/files/x", destination: "/opt/x"),
            .delete(paths: ["/var/cache/foo"]), .delete(paths: ["/a", "/b"]),
            .runCommand("apt-get clean"), .hostname("web01"), .rootPassword("secret"),
        ])
        #expect(provisioners.map(\.title) == [
            "shell", "shell", "script scripts/a.sh", "script a.sh, b.sh", "file files/site/ -> /var/www/html/",
            "reboot", "reboot", "reboot", "write /etc/motd", "upload files/x -> /opt/x", "delete /var/cache/foo",
            "delete /a, /b", "run_command apt-get clean", "hostname web01", "root_password",
        ])
        #expect(provisioners.map(\.location.line) == [4, 5, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23])
        #expect(provisioners.filter(\.kind.isOffline).count == 7)
    }

    @Test func fileSourcesThatExistAreCheckedForDirectories() throws {
        let options = Support.options { $0.checkFiles = true }
        let yaml = "builds: [{ name: web, provisioners: [{ file: { source: files/site, destination: /srv } }, { file: { source: files/motd, destination: /etc/motd } }] }]"
        let template = try TemplateLoader.load(text: yaml, path: Support.fixtures.path + "/t.yaml", options: options)
        let kinds = template.builds[0].provisioners.map(\.kind)
        #expect(kinds == [
            .file(FileUpload(source: Support.fixtures.path + "/files/site", destination: "/srv", isDirectory: true)),
            .file(FileUpload(source: Support.fixtures.path + "/files/motd", destination: "/etc/motd", isDirectory: false)),
        ])
    }
}

@Suite struct OutputTests {
    @Test func everyFormatAndOption() throws {
        let build = try Support.build("""
        builds:
          - name: web
            outputs:
              - vmdk: { subformat: monolithicSparse }
              - vdi
              - vhd: { fixed: true }
              - qcow2: { compress: true }
              - raw
              - vhdx: {}
              - ova:
              - vagrant: { provider: virtualbox }
            publish:
              ami: { region: eu-west-1, name: "web-${build.timestamp}", method: import, bucket: images, tags: { team: web } }
        """)
        #expect(build.outputs.map(\.format) == [.vmdk, .vdi, .vhd, .qcow2, .raw, .vhdx, .ova, .vagrant])
        #expect(build.outputs[0].vmdkSubformat == .monolithicSparse)
        #expect(build.outputs[1].vmdkSubformat == .streamOptimized)
        #expect(build.outputs[2].fixed)
        #expect(build.outputs[3].compress)
        #expect(build.outputs[7].vagrantProvider == .virtualbox)
        #expect(build.outputs.map(\.location.line) == Array(4...11))
        let ami = try #require(build.publish?.ami)
        #expect(ami.name == "web-1700000000")
        #expect(ami.method == .import)
        #expect(ami.bucket == "images")
        #expect(ami.region == "eu-west-1")
        #expect(ami.tags == ["team": "web"])
    }

    @Test func outputDirectories() throws {
        let yaml = "builds: [{ name: a }, { name: b, output_directory: \"/srv/images/${build.name}\" }]"
        let template = try Support.load(yaml).get()
        #expect(template.builds.map(\.outputDirectory) == ["/tmpl/output/a", "/srv/images/b"])
        let overridden = try Support.load(yaml, Support.options { $0.outputDirectoryOverride = "out" }).get()
        #expect(overridden.builds.map(\.outputDirectory) == ["/work/here/out/a", "/work/here/out/b"])
        let single = try Support.load(yaml, Support.options { $0.outputDirectoryOverride = "/o"; $0.only = ["a"] }).get()
        #expect(single.builds.map(\.outputDirectory) == ["/o"])
    }

    @Test func buildsMayNotShareAnOutputDirectory() {
        #expect(Support.errors("builds: [{ name: a, output_directory: out }, { name: b, output_directory: out/ }]")
                == ["/tmpl/t.yaml:1:46: builds.b.output_directory: '/tmpl/out' is also the output directory of build 'a'; give each build its own"])
    }
}

@Suite struct DefaultsAndFilterTests {
    static let yaml = """
    defaults:
      machine: { cpus: 4, memory: 2048 }
      ssh: { username: admin, port: 2222 }
      seed: guestfs
      outputs: [vdi]
    builds:
      - name: web
        machine: { memory: 4096 }
        ssh: { port: 22 }
      - name: db
        seed: none
        outputs: [qcow2, raw]
      - name: cache
        machine: ~
    """

    @Test func defaultsAreMergedUnderEveryBuild() throws {
        let builds = try Support.load(Self.yaml).get().builds
        #expect(builds.map(\.name) == ["web", "db", "cache"])
        #expect(builds[0].machine.cpus == 4)
        #expect(builds[0].machine.memoryMiB == 4096)
        #expect(builds[0].ssh.username == "admin")
        #expect(builds[0].ssh.port == 22)
        #expect(builds[0].seed == .guestfs)
        #expect(builds[0].outputs.map(\.format) == [.vdi])
        #expect(builds[1].seed == SeedMethod.none)
        #expect(builds[1].outputs.map(\.format) == [.qcow2, .raw])
        #expect(builds[1].machine.memoryMiB == 2048)
        #expect(builds[2].machine.cpus == 2) // an explicit null replaces the defaults' machine
    }

    @Test func onlyAndExceptSelectBuilds() throws {
        func names(_ edit: (inout LoadOptions) -> Void) throws -> [String] {
            try Support.load(Self.yaml, Support.options(edit)).get().builds.map(\.name)
        }
        #expect(try names { $0.only = ["db"] } == ["db"])
        #expect(try names { $0.only = ["*b*"] } == ["web", "db"])
        #expect(try names { $0.except = ["c*"] } == ["web", "db"])
        #expect(try names { $0.only = ["w*", "c*"]; $0.except = ["cache"] } == ["web"])
        #expect(Support.errors(Self.yaml, Support.options { $0.only = ["web"]; $0.except = ["*"] })
                == ["--except: no build is left to run"])
    }

    @Test func globsMatchLikeShells() {
        #expect(BuildFilter.matches("web-1", "web-*"))
        #expect(BuildFilter.matches("web", "*"))
        #expect(BuildFilter.matches("abcabd", "*ab*d"))
        #expect(!BuildFilter.matches("web", "we"))
        #expect(!BuildFilter.matches("aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*a*a*c"))
    }

    @Test func filteredOutBuildsAreNotChecked() throws {
        let yaml = "builds: [{ name: a, source: { image: missing.img } }, { name: b }]"
        let options = Support.options { $0.checkFiles = true; $0.only = ["b"] }
        #expect(try Support.load(yaml, options).get().builds.map(\.name) == ["b"])
    }
}
