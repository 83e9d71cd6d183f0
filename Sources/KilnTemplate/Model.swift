import Foundation

// The typed, fully resolved template. Every value here has been interpolated and checked;
// every spec keeps the place in the file it came from, so later errors can point at it.

public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }
    public var description: String { "\(file):\(line):\(column)" }
}

public struct Template: Sendable {
    /// Absolute path of the template file.
    public var path: String
    /// Absolute path of the directory holding the template; relative paths resolve against it.
    public var directory: String
    public var variables: [VariableSpec]
    public var builds: [BuildSpec]
    /// Resolved values of sensitive variables: mask them wherever text is shown or written.
    public var secrets: Set<String>
    /// SHA-256 (hex) of the template's bytes, the values of its variables and the files it references.
    public var contentHash: String
}

public enum VariableType: String, Sendable, CaseIterable { case string, number, bool }

public struct VariableSpec: Sendable {
    public var name: String
    public var type: VariableType
    public var description: String?
    public var sensitive: Bool
    /// The value in force after defaults, --var-file, --var and the environment (KILN_VAR_name).
    public var value: String
    public var location: SourceLocation
}

public struct BuildSpec: Sendable {
    public var name: String
    public var source: SourceSpec
    public var machine: MachineSpec
    public var ssh: SSHSpec
    public var seed: SeedMethod
    public var provisioners: [ProvisionerSpec]
    public var shutdown: ShutdownSpec
    public var generalize: GeneralizeSpec
    public var outputs: [OutputSpec]
    public var publish: PublishSpec?
    /// Absolute path.
    public var outputDirectory: String
    public var location: SourceLocation
}

// MARK: source

public enum SourceSpec: Sendable, Equatable {
    /// A local disk image (absolute path). Its format is detected, never trusted from the name.
    case image(path: String)
    /// A remote (or file://) image verified against a checksum before use.
    case url(URLSource)
    /// A Debian system built from packages with mmdebstrap.
    case bootstrap(BootstrapSpec)
    /// The output of another build, built (or found up to date) first. Kiln turns it into `.image`
    /// of that build's disk before this build starts.
    case build(BuildReference)
}

public struct BuildReference: Sendable, Equatable, Hashable {
    /// Absolute path of the other template; nil for a build of the same template.
    public var template: String?
    public var build: String
    public init(template: String?, build: String) {
        self.template = template
        self.build = build
    }
    public var description: String { (template.map { $0 + "#" } ?? "") + build }
}

public struct URLSource: Sendable, Equatable {
    public var url: String
    public var checksum: Checksum
    public init(url: String, checksum: Checksum) {
        self.url = url
        self.checksum = checksum
    }
}

public enum ChecksumAlgorithm: String, Sendable, CaseIterable { case sha256, sha512 }

public enum Checksum: Sendable, Equatable {
    /// `sha256:HEX` or `sha512:HEX`.
    case value(ChecksumAlgorithm, hex: String)
    /// `file:URL`: a SHA256SUMS/SHA512SUMS style file listing the image's file name.
    case file(url: String)
    /// `none`: explicitly unverified (as Packer's iso_checksum "none").
    case none
}

public enum Bootloader: String, Sendable, CaseIterable { case grub, extlinux }

public struct BootstrapSpec: Sendable, Equatable {
    public var distribution: String      // "debian"
    public var suite: String             // "bookworm"
    public var packages: [String]
    public var mirror: String            // default http://deb.debian.org/debian
    public var bootloader: Bootloader    // default grub
    public var size: UInt64              // bytes, default 2 GiB
    public init(distribution: String = "debian", suite: String = "bookworm", packages: [String] = [],
                mirror: String = "http://deb.debian.org/debian", bootloader: Bootloader = .grub,
                size: UInt64 = 2 << 30) {
        self.distribution = distribution
        self.suite = suite
        self.packages = packages
        self.mirror = mirror
        self.bootloader = bootloader
        self.size = size
    }
}

// MARK: machine

public enum Firmware: String, Sendable, CaseIterable { case bios, uefi }
public enum AcceleratorChoice: String, Sendable, CaseIterable { case auto, kvm, tcg }

/// Direct kernel boot: QEMU loads the kernel itself, skipping the bootloader (paths absolute).
public struct KernelBoot: Sendable, Equatable {
    public var kernel: String
    public var initrd: String?
    public var cmdline: String
    public init(kernel: String, initrd: String?, cmdline: String) {
        self.kernel = kernel
        self.initrd = initrd
        self.cmdline = cmdline
    }
}

public struct MachineSpec: Sendable, Equatable {
    public var cpus: Int                 // default 2
    public var memoryMiB: Int            // default 1024
    public var diskSize: UInt64?         // bytes; nil keeps the base image's size
    public var firmware: Firmware        // default bios
    public var accelerator: AcceleratorChoice // default auto
    public var kernelBoot: KernelBoot?
    /// libvirt connection URI, default qemu:///system.
    public var connect: String
}

// MARK: ssh and seeding

public struct SSHSpec: Sendable, Equatable {
    public var username: String          // default root
    public var password: String?
    /// A private key of the user's own (absolute path); by default Kiln makes an ephemeral one.
    public var privateKeyFile: String?
    public var port: Int                 // guest port, default 22
    public var timeout: Duration         // default 5m
}

/// How the build's SSH key and the pinned host key reach the guest before it boots.
public enum SeedMethod: String, Sendable, CaseIterable {
    /// Pick: credentials for images Kiln bootstrapped (systemd >= 252), libguestfs otherwise.
    case auto
    /// systemd credentials over SMBIOS OEM strings; no appliance needed.
    case credentials
    /// Written into the disk offline through libguestfs.
    case guestfs
    /// Nothing is injected: the image must already accept `ssh.password` or `ssh.private_key`.
    case none
}

// MARK: provisioners

public struct ProvisionerSpec: Sendable {
    public var kind: ProvisionerKind
    public var location: SourceLocation
    /// A short, human name: "shell #1", "file files/site/ -> /var/www".
    public var title: String
    /// False: never reuse this step's result from the step cache (nor any later step's).
    public var cache: Bool
}

public enum ProvisionerKind: Sendable, Equatable {
    // Over SSH, in the running guest.
    case shell(ShellStep)
    case file(FileUpload)
    case reboot(timeout: Duration)
    // Offline, on the disk through libguestfs (virt-customize's vocabulary).
    case write(path: String, content: String, mode: Int?)
    case upload(source: String, destination: String)
    case delete(paths: [String])
    case runCommand(String)
    case hostname(String)
    case rootPassword(String)

    public var isOffline: Bool {
        switch self {
        case .shell, .file, .reboot: return false
        default: return true
        }
    }
}

public struct ShellStep: Sendable, Equatable {
    public enum Body: Sendable, Equatable {
        /// The inline text as one script.
        case inline(String)
        /// Host script files (absolute paths), each run in turn.
        case scripts([String])
    }
    public var body: Body
    public var env: [String: String]
    public var workingDirectory: String?
    /// How the uploaded script is run in the guest, `{{path}}` standing for its path there.
    /// Default `sh -e '{{path}}'`; `sudo -E sh -e '{{path}}'` for a non-root user with sudo.
    public var executeCommand: String
    /// The command may drop the SSH connection (a reboot, a network restart): not an error.
    public var expectDisconnect: Bool
    public var timeout: Duration?

    public init(body: Body, env: [String: String] = [:], workingDirectory: String? = nil,
                executeCommand: String = "sh -e '{{path}}'", expectDisconnect: Bool = false, timeout: Duration? = nil) {
        self.body = body
        self.env = env
        self.workingDirectory = workingDirectory
        self.executeCommand = executeCommand
        self.expectDisconnect = expectDisconnect
        self.timeout = timeout
    }
}

public struct FileUpload: Sendable, Equatable {
    /// Absolute host path: a file, or a directory (its contents when it ends with `/`, as rsync).
    public var source: String
    /// Absolute guest path.
    public var destination: String
    public var isDirectory: Bool

    public init(source: String, destination: String, isDirectory: Bool) {
        self.source = source
        self.destination = destination
        self.isDirectory = isDirectory
    }
}

// MARK: shutdown, generalize, outputs, publish

public struct ShutdownSpec: Sendable, Equatable {
    /// Run over SSH; nil means ACPI power button through libvirt.
    public var command: String?
    public var timeout: Duration         // default 2m
}

public enum GeneralizeOperation: String, Sendable, CaseIterable {
    case sshKeys = "ssh-keys"                  // the build's authorized key and any key Kiln added
    case sshHostKeys = "ssh-host-keys"
    case machineID = "machine-id"
    case dhcpLeases = "dhcp-leases"
    case logs
    case shellHistory = "shell-history"
    case tmpFiles = "tmp-files"
    case aptCache = "apt-cache"
    case cloudInit = "cloud-init"
}

public struct GeneralizeSpec: Sendable, Equatable {
    public var enabled: Bool             // default true
    public var operations: [GeneralizeOperation] // default all, minus `keep:`
    public var delete: [String]          // extra guest paths (globs) to remove
    public var compact: Bool             // default true: fstrim free space

    public init(enabled: Bool = true, operations: [GeneralizeOperation] = GeneralizeOperation.allCases,
                delete: [String] = [], compact: Bool = true) {
        self.enabled = enabled
        self.operations = operations
        self.delete = delete
        self.compact = compact
    }
}

public enum OutputFormat: String, Sendable, CaseIterable {
    case qcow2, raw, vdi, vmdk, vhd, vhdx, ova, vagrant
}

public enum VMDKSubformat: String, Sendable, CaseIterable { case streamOptimized, monolithicSparse }
public enum VagrantProvider: String, Sendable, CaseIterable { case libvirt, virtualbox }

public struct OutputSpec: Sendable, Equatable {
    public var format: OutputFormat
    public var compress: Bool            // qcow2
    public var vmdkSubformat: VMDKSubformat // vmdk, default streamOptimized
    public var fixed: Bool               // vhd: fixed instead of dynamic
    public var vagrantProvider: VagrantProvider
    public var location: SourceLocation
}

public enum AMIMethod: String, Sendable, CaseIterable { case direct, `import` }

public struct PublishSpec: Sendable, Equatable {
    public var ami: AMISpec?
}

public enum AMIArchitecture: String, Sendable, CaseIterable { case x86_64, arm64 }
public enum AMIBootMode: String, Sendable, CaseIterable { case legacyBIOS = "legacy-bios", uefi }
public enum AMIVolumeType: String, Sendable, CaseIterable { case gp3, gp2, io1, io2, standard }
/// The disk format uploaded to S3 for ImportImage (import method).
public enum AMIImportFormat: String, Sendable, CaseIterable { case vmdk, raw, vhd }

public struct AMISpec: Sendable, Equatable {
    public var region: String?
    public var name: String
    public var method: AMIMethod
    public var bucket: String?           // import only
    public var tags: [String: String]
    public var description: String?
    public var architecture: AMIArchitecture   // default x86_64
    /// nil: from the disk's partitioning (an EFI system partition means uefi, else legacy-bios).
    public var bootMode: AMIBootMode?
    public var rootDeviceName: String          // default /dev/xvda
    public var volumeType: AMIVolumeType       // default gp3
    /// Bytes; nil: the disk's virtual size rounded up to whole GiB.
    public var volumeSize: UInt64?
    public var enaSupport: Bool                // default true
    /// Blocks uploaded at once (direct method), default 16.
    public var concurrency: Int
    /// How long to wait for the snapshot and then the image to become ready, default 60 minutes.
    public var timeout: Duration
    public var location: SourceLocation
    /// After registration: point a launch template at the image (a new version).
    public var launchTemplate: LaunchTemplateSpec?
    /// Then roll an Auto Scaling group that launches from that template.
    public var autoScalingGroup: AutoScalingGroupSpec?
    /// Last: deregister older images of the same family.
    public var retention: RetentionSpec?
    /// What the import method uploads, default vmdk (streamOptimized: compressed, AWS's preferred).
    public var importFormat: AMIImportFormat

    public init(region: String? = nil, name: String, method: AMIMethod = .direct, bucket: String? = nil,
                tags: [String: String] = [:], description: String? = nil, architecture: AMIArchitecture = .x86_64,
                bootMode: AMIBootMode? = nil, rootDeviceName: String = "/dev/xvda", volumeType: AMIVolumeType = .gp3,
                volumeSize: UInt64? = nil, enaSupport: Bool = true, concurrency: Int = 16,
                timeout: Duration = .seconds(3600),
                location: SourceLocation = SourceLocation(file: "", line: 1, column: 1),
                launchTemplate: LaunchTemplateSpec? = nil, autoScalingGroup: AutoScalingGroupSpec? = nil,
                retention: RetentionSpec? = nil, importFormat: AMIImportFormat = .vmdk) {
        self.region = region
        self.name = name
        self.method = method
        self.bucket = bucket
        self.tags = tags
        self.description = description
        self.architecture = architecture
        self.bootMode = bootMode
        self.rootDeviceName = rootDeviceName
        self.volumeType = volumeType
        self.volumeSize = volumeSize
        self.enaSupport = enaSupport
        self.concurrency = concurrency
        self.timeout = timeout
        self.location = location
        self.launchTemplate = launchTemplate
        self.autoScalingGroup = autoScalingGroup
        self.retention = retention
        self.importFormat = importFormat
    }
}
