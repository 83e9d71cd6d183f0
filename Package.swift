// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "kiln",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kiln", targets: ["kiln"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssh.git", from: "0.15.1"),
    ],
    targets: [
        // The command line: the only place where real drivers are wired into the engine.
        .executableTarget(
            name: "kiln",
            dependencies: [
                "KilnCore", "KilnDrivers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The template language: parsing, interpolation, validation. Knows nothing of VMs.
        .target(
            name: "KilnTemplate",
            dependencies: [.product(name: "Yams", package: "Yams"), .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The engine: plan, pipeline, steps, events, errors; talks to the world through ports.
        .target(
            name: "KilnCore",
            dependencies: ["KilnTemplate", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Thin, faithful wrappers of the C libraries; they know nothing of Kiln.
        .systemLibrary(name: "CLibvirt", pkgConfig: "libvirt", providers: [.apt(["libvirt-dev"])]),
        .target(name: "Libvirt", dependencies: ["CLibvirt"]),
        .systemLibrary(name: "CGuestFS", pkgConfig: "libguestfs", providers: [.apt(["libguestfs-dev"])]),
        .target(name: "GuestFS", dependencies: ["CGuestFS"]),
        // zlib's deflate, for the streamOptimized VMDK writer's grains.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // An SSH client on swift-nio-ssh: pinned host key, exec with streamed output, uploads.
        .target(
            name: "KilnSSH",
            dependencies: [
                .product(name: "NIOSSH", package: "swift-nio-ssh"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // AWS over its HTTP APIs: SigV4, credentials, EC2 query API, EBS direct API. Knows nothing of Kiln.
        .target(name: "KilnAWS", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // Real implementations of the engine's ports.
        .target(
            name: "KilnDrivers",
            dependencies: ["KilnCore", "Libvirt", "GuestFS", "CZlib", "KilnSSH", "KilnAWS", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(name: "KilnTestSupport", dependencies: ["KilnCore"], path: "Tests/KilnTestSupport"),

        .testTarget(name: "KilnTemplateTests", dependencies: ["KilnTemplate"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "KilnCoreTests", dependencies: ["KilnCore", "KilnTestSupport"]),
        .testTarget(name: "LibvirtTests", dependencies: ["Libvirt", "KilnTestSupport"]),
        .testTarget(name: "KilnSSHTests", dependencies: ["KilnSSH"]),
        .testTarget(name: "GuestFSTests", dependencies: ["GuestFS"]),
        .testTarget(name: "KilnAWSTests", dependencies: ["KilnAWS", "KilnTestSupport"]),
        .testTarget(name: "KilnDriversTests", dependencies: ["KilnDrivers", "KilnTestSupport", "CZlib"]),
        // Runs the built `kiln` binary: exit codes, inspect output, and whole builds on the real path.
        .testTarget(name: "KilnCLITests", dependencies: ["KilnTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
