import Foundation
import KilnCore
import KilnTemplate

/// Builds (or finds in the cache) a bootable Debian qcow2 from packages with mmdebstrap.
/// The entry `bootstrap/<key>/` holds disk.qcow2, vmlinuz, initrd.img and metadata.json; it is
/// built in a temp directory beside it and renamed into place, under the entry's lock.
struct DebianBootstrapper: Sendable {
    static let imageName = "disk.qcow2"
    static let kernelName = "vmlinuz"
    static let initrdName = "initrd.img"
    static let step = "bootstrap"

    var cache: CacheDirectory

    struct Built: Sendable {
        var directory: String
        var metadata: CacheMetadata
        var cacheHit: Bool
    }

    func image(for spec: BootstrapSpec, build: String, events: any EventSink) async throws -> Built {
        guard spec.distribution == "debian" else {
            throw KilnError(.baseImage, "cannot bootstrap \(spec.distribution): only debian is supported")
        }
        guard getuid() == 0 else {
            throw KilnError(.baseImage, "bootstrapping a Debian image needs root (mmdebstrap --mode=root)",
                            hint: "run kiln as root, or use a source image or url")
        }
        let recipe = BootstrapRecipe(spec: spec)
        let entry = cache.bootstrapEntry(forKey: recipe.cacheKey)
        try makeDirectory(cache.bootstraps)
        let lock = try await FileLock.acquire(cache.bootstraps + "/" + recipe.cacheKey + CacheEntryFiles.lock) {
            events.emit(.info(build: build, message: "waiting for another Kiln process bootstrapping \(recipe.summary)"))
        }
        defer { lock.unlock() }

        if var metadata = CacheMetadata.read(from: entry),
           FileManager.default.fileExists(atPath: entry + "/" + metadata.imageFile) {
            metadata.lastUsed = Date()
            try? metadata.write(to: entry)
            return Built(directory: entry, metadata: metadata, cacheHit: true)
        }
        try? FileManager.default.removeItem(atPath: entry)   // an incomplete entry from an older Kiln
        let temp = cache.bootstraps + "/" + CacheEntryFiles.temporaryPrefix + recipe.cacheKey + "-\(getpid())"
        try? FileManager.default.removeItem(atPath: temp)
        try makeDirectory(temp)
        do {
            let metadata = try await make(recipe, in: temp, build: build, events: events)
            try rename(temp, to: entry)
            return Built(directory: entry, metadata: metadata, cacheHit: false)
        } catch {
            await Self.removeTree(temp)
            throw KilnError.wrap(error, as: .baseImage, "bootstrapping \(recipe.summary) failed")
        }
    }

    private func make(_ recipe: BootstrapRecipe, in work: String, build: String, events: any EventSink) async throws -> CacheMetadata {
        let started = ContinuousClock.now
        let rootfs = work + "/rootfs", essential = work + "/overlay-essential", customize = work + "/overlay-customize"
        try writeTree(recipe.essentialFiles, under: essential)
        try writeTree(recipe.customizeFiles, under: customize)
        let emit: @Sendable (BuildEvent.OutputStream, String) -> Void = { stream, line in
            events.emit(.output(build: build, step: Self.step, stream: stream, line: line))
        }
        let emitLine: @Sendable (String) -> Void = { emit(.stderr, $0) }
        events.emit(.info(build: build, message: "bootstrapping \(recipe.summary) with mmdebstrap"))
        do {
            try await ProcessGroup.run("mmdebstrap", recipe.mmdebstrapArguments(
                rootfs: rootfs, essentialOverlay: essential, customizeOverlay: customize),
                pidFile: work + "/mmdebstrap.pid", onLine: emit)
        } catch let failure as Subprocess.Failure {
            throw KilnError(.baseImage, "mmdebstrap failed (status \(failure.status)):\n\(failure.stderr.split(separator: "\n").suffix(15).joined(separator: "\n"))",
                            hint: "check the package names and that \(recipe.spec.mirror) is reachable", cause: failure)
        }
        let debootstrapSeconds = (ContinuousClock.now - started).seconds
        let kernelVersion = try Self.kernelVersion(in: rootfs)
        try copyFile(rootfs + "/boot/vmlinuz-" + kernelVersion, to: work + "/" + Self.kernelName)
        try copyFile(rootfs + "/boot/initrd.img-" + kernelVersion, to: work + "/" + Self.initrdName)
        try installBootloaderFiles(recipe.spec.bootloader, kernelVersion: kernelVersion, rootfs: rootfs)

        let assembler = DiskAssembler(rootfs: rootfs, workDirectory: work, size: recipe.spec.size,
                                      bootloader: recipe.spec.bootloader == .grub ? .grub : .extlinux)
        try await assembler.assemble(to: work + "/" + Self.imageName, onLine: emitLine)
        await Self.removeTree(rootfs)
        for leftover in [essential, customize, work + "/mmdebstrap.pid"] { try? FileManager.default.removeItem(atPath: leftover) }

        let seconds = (ContinuousClock.now - started).seconds
        events.emit(.info(build: build, message: String(
            format: "bootstrapped %@ in %.1f s (mmdebstrap %.1f s)", recipe.summary, seconds, debootstrapSeconds)))
        let now = Date()
        let metadata = CacheMetadata(
            kind: .bootstrap, origin: recipe.summary, imageFile: Self.imageName, format: "qcow2",
            kernel: Self.kernelName, initrd: Self.initrdName, cmdline: BootstrapRecipe.kernelCmdline,
            createdAt: now, lastUsed: now, buildSeconds: seconds)
        try metadata.write(to: work)
        return metadata
    }

    private func installBootloaderFiles(_ bootloader: Bootloader, kernelVersion: String, rootfs: String) throws {
        switch bootloader {
        case .grub:
            try writeTree(["boot/grub/grub.cfg": BootloaderConfig.grubConfig(
                kernelVersion: kernelVersion, cmdline: BootstrapRecipe.kernelCmdline)], under: rootfs)
            try GrubBIOSBoot.copyModules(intoRoot: rootfs)
        case .extlinux:
            try writeTree(["boot/extlinux/extlinux.conf": BootloaderConfig.extlinuxConfig(
                kernelVersion: kernelVersion, cmdline: BootstrapRecipe.kernelCmdline)], under: rootfs)
        }
    }

    static func kernelVersion(in rootfs: String) throws -> String {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: rootfs + "/boot")) ?? []
        guard let kernel = names.filter({ $0.hasPrefix("vmlinuz-") }).sorted().last else {
            throw KilnError(.baseImage, "the bootstrapped system has no kernel in /boot")
        }
        return String(kernel.dropFirst("vmlinuz-".count))
    }

    /// mmdebstrap's tree can hold device nodes and read-only files: `rm -rf` it, even when cancelled.
    static func removeTree(_ path: String) async {
        await Task.detached {
            await LeftoverMounts.unmountAll(under: path)
            _ = try? await Subprocess.run("rm", ["-rf", "--one-file-system", path])
        }.value
    }
}

/// Writes relative-path -> content files under a directory, creating parents.
func writeTree(_ files: [String: String], under root: String) throws {
    for (path, content) in files {
        let full = root + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(content.utf8).write(to: URL(fileURLWithPath: full))
    }
}

func copyFile(_ from: String, to: String) throws {
    try? FileManager.default.removeItem(atPath: to)
    try FileManager.default.copyItem(atPath: URL(fileURLWithPath: from).resolvingSymlinksInPath().path, toPath: to)
    chmod(to, 0o644)
}

