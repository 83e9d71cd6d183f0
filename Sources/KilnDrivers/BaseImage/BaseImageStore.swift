import Foundation
import KilnCore
import KilnTemplate

/// The real `BaseImageResolver`: local images are checked and used in place, URLs are downloaded
/// into the cache and verified, bootstrap sources are built with mmdebstrap and cached.
public struct BaseImageStore: BaseImageResolver {
    public let cache: CacheDirectory

    /// `cacheDirectory` nil: `$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`.
    public init(cacheDirectory: String? = nil) {
        cache = CacheDirectory(cacheDirectory)
    }

    public func resolve(_ source: SourceSpec, build: String, events: any EventSink) async throws -> ResolvedBase {
        switch source {
        case .image(let path):
            let info = try await LocalImage.inspect(path)
            return ResolvedBase(path: path, format: info.format, virtualSize: info.virtualSize, origin: path)

        case .build(let reference):
            throw KilnError(.internal, "the output of build \(reference.description) was not resolved before this build started")

        case .url(let urlSource):
            let (path, hit) = try await DownloadCache(cache: cache).image(for: urlSource, build: build, events: events)
            let info = try await LocalImage.inspect(path)
            return ResolvedBase(path: path, format: info.format, virtualSize: info.virtualSize,
                                origin: urlSource.url + (hit ? " (cached)" : ""), cacheHit: hit)

        case .bootstrap(let spec):
            let built = try await DebianBootstrapper(cache: cache).image(for: spec, build: build, events: events)
            let path = built.directory + "/" + built.metadata.imageFile
            let info = try await QemuImg.info(path)
            return ResolvedBase(
                path: path, format: info.format, virtualSize: info.virtualSize, seedHint: .credentials,
                kernelBoot: Self.kernelBoot(of: built), origin: "bootstrap " + built.metadata.origin + (built.cacheHit ? " (cached)" : ""),
                cacheHit: built.cacheHit)
        }
    }

    /// The kernel and initrd kept beside a bootstrapped image, for direct kernel boot.
    public func kernelFiles(for spec: BootstrapSpec) -> (kernel: String, initrd: String, cmdline: String) {
        let directory = cache.bootstrapEntry(forKey: BootstrapRecipe(spec: spec).cacheKey)
        return (directory + "/" + DebianBootstrapper.kernelName, directory + "/" + DebianBootstrapper.initrdName,
                BootstrapRecipe.kernelCmdline)
    }

    private static func kernelBoot(of built: DebianBootstrapper.Built) -> KernelBoot? {
        guard let kernel = built.metadata.kernel, let cmdline = built.metadata.cmdline else { return nil }
        return KernelBoot(kernel: built.directory + "/" + kernel,
                               initrd: built.metadata.initrd.map { built.directory + "/" + $0 }, cmdline: cmdline)
    }
}
