import Foundation

/// manifest.json, shaped like Packer's manifest post-processor output (`builds[].files[].name/size`,
/// `artifact_id`, `builder_type`, `build_time`, `last_run_uuid`) so tools that read Packer's can
/// read Kiln's; Kiln's own details sit under `kiln`.
public struct Manifest: Codable, Sendable, Equatable {
    public struct File: Codable, Sendable, Equatable {
        public var name: String
        public var size: UInt64
        public var format: String
        public var sha256: String
    }

    public struct Offline: Codable, Sendable, Equatable {
        public var applianceLaunchSeconds: Double
        public var phases: [String: Double]
        public var removed: [String]
        public var diskBytesBeforeTrim: UInt64?
        public var diskBytesAfterTrim: UInt64?
        enum CodingKeys: String, CodingKey {
            case applianceLaunchSeconds = "appliance_launch_seconds", phases, removed
            case diskBytesBeforeTrim = "disk_bytes_before_trim", diskBytesAfterTrim = "disk_bytes_after_trim"
        }
    }

    public struct KilnDetails: Codable, Sendable, Equatable {
        public var version: String
        public var template: String
        public var templateHash: String
        public var base: String?
        public var accelerator: String?
        public var acceleratorReason: String?
        public var timings: [StepTiming]
        public var offline: [Offline]
        public var guest: GuestOSInfo?
        public var ami: PublishResult?
        public var stepCache: StepCacheReport?
        enum CodingKeys: String, CodingKey {
            case version, template, base, accelerator, timings, offline, guest, ami
            case templateHash = "template_hash", acceleratorReason = "accelerator_reason", stepCache = "step_cache"
        }
    }

    public struct Build: Codable, Sendable, Equatable {
        public var name: String
        public var builderType: String
        public var buildTime: Int
        public var files: [File]
        public var artifactID: String
        public var packerRunUUID: String
        public var customData: [String: String]
        public var kiln: KilnDetails
        enum CodingKeys: String, CodingKey {
            case name, files, kiln
            case builderType = "builder_type", buildTime = "build_time", artifactID = "artifact_id"
            case packerRunUUID = "packer_run_uuid", customData = "custom_data"
        }
    }

    public var builds: [Build]
    public var lastRunUUID: String
    enum CodingKeys: String, CodingKey { case builds, lastRunUUID = "last_run_uuid" }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
