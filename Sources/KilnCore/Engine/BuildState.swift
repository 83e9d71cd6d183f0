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
    public var bootCount = 0
    public var shutdownCount = 0

    public init(id: String) { self.id = id }

    public var domainName: String { "kiln-\(id)" }
    public var consoleLog: String { workDirectory + "/console.log" }
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
