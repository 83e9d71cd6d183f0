import Foundation
import KilnTemplate

/// What the steps of one build have made so far. Steps run one after another and hand it on.
public struct BuildState: Sendable {
    public var id: String
    public var workDirectory: String = ""
    public var base: ResolvedBase?
    public var workDisk: String = ""
    public var keys: BuildKeys?
    public var accelerator: Accelerator?
    public var acceleratorReason: String?
    public var vm: (any VirtualMachine)?
    public var shell: (any GuestShell)?
    public var endpoint: GuestEndpoint?
    public var stagingDirectory: String = ""
    public var artifacts: [Artifact] = []
    public var timings: [StepTiming] = []
    public var offline: [OfflineReport] = []
    public var published: PublishResult?
    public var stepCache: StepCacheReport?
    public var stepKeys: StepCacheKeys?
    /// The cached layer the work disk's content currently builds on (resumed from, or last stored).
    public var cacheParent: CachedLayer?
    /// False once a layer could not be stored: later layers would sit on the wrong parent.
    public var cacheChainIntact = true
    /// Overlays the work disk moved to at each checkpoint (all in the work directory).
    public var diskGeneration = 0
    public var bootCount = 0
    public var shutdownCount = 0

    public init(id: String) { self.id = id }

    public var domainName: String { "kiln-\(id)" }
    public var consoleLog: String { workDirectory + "/console.log" }
}

/// What the step cache did for a build, for the output and the manifest.
public struct StepCacheReport: Sendable, Codable, Equatable {
    /// The step the build resumed after ("final" when only the export ran), nil for a full run.
    public var resumedAfter: String?
    /// Provisioners skipped because their result was cached.
    public var skipped: Int
    /// Layers this build added to the cache.
    public var stored: Int
    /// The key of the finished disk, when it is cacheable.
    public var finalKey: String?
    enum CodingKeys: String, CodingKey {
        case skipped, stored
        case resumedAfter = "resumed_after", finalKey = "final_key"
    }
}

public struct StepTiming: Sendable, Codable, Equatable {
    public var step: String
    public var seconds: Double
}

public struct Artifact: Sendable, Codable, Equatable {
    public var name: String
    public var format: String
    public var size: UInt64
    public var sha256: String
}
