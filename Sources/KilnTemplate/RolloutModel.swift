import Foundation

// What `publish.ami` does after the image is registered: a launch template version, an Auto
// Scaling group rolled onto it, and retention of older images.

public enum InstanceMarket: String, Sendable, CaseIterable { case onDemand = "on-demand", spot }

public struct LaunchTemplateSpec: Sendable, Equatable {
    public var name: String
    /// Create the template when it does not exist (default false: a missing template is an error).
    public var create: Bool
    /// Make the new version the template's default (default false).
    public var setDefault: Bool
    // Set in the new version only when given; otherwise the version keeps the default version's.
    public var instanceType: String?
    public var keyName: String?
    public var securityGroupIDs: [String]?
    /// Absolute host path; its bytes become the instances' user data.
    public var userDataFile: String?
    public var instanceTags: [String: String]?
    public var volumeTags: [String: String]?
    public var market: InstanceMarket?
    /// Spot only: the most to pay per instance hour, in USD (AWS's default: the on-demand price).
    public var maxPrice: String?
    public var location: SourceLocation

    public init(name: String, create: Bool = false, setDefault: Bool = false, instanceType: String? = nil,
                keyName: String? = nil, securityGroupIDs: [String]? = nil, userDataFile: String? = nil,
                instanceTags: [String: String]? = nil, volumeTags: [String: String]? = nil, market: InstanceMarket? = nil,
                maxPrice: String? = nil, location: SourceLocation = SourceLocation(file: "", line: 1, column: 1)) {
        self.name = name
        self.create = create
        self.setDefault = setDefault
        self.instanceType = instanceType
        self.keyName = keyName
        self.securityGroupIDs = securityGroupIDs
        self.userDataFile = userDataFile
        self.instanceTags = instanceTags
        self.volumeTags = volumeTags
        self.market = market
        self.maxPrice = maxPrice
        self.location = location
    }
}

public struct InstanceRefreshSpec: Sendable, Equatable {
    /// nil: AWS's default (90).
    public var minHealthyPercentage: Int?
    /// nil: the group's own warm-up (or health check grace period).
    public var instanceWarmup: Duration?
    /// Follow the refresh until it ends (default true); otherwise only start it.
    public var wait: Bool
    /// How long to follow it, default 60 minutes.
    public var timeout: Duration

    public init(minHealthyPercentage: Int? = nil, instanceWarmup: Duration? = nil, wait: Bool = true,
                timeout: Duration = .seconds(3600)) {
        self.minHealthyPercentage = minHealthyPercentage
        self.instanceWarmup = instanceWarmup
        self.wait = wait
        self.timeout = timeout
    }
}

public struct AutoScalingGroupSpec: Sendable, Equatable {
    public var name: String
    /// nil: no instance refresh (new instances launch from the new version as the group scales).
    public var refresh: InstanceRefreshSpec?
    // The group's sizes change only when set here.
    public var desired: Int?
    public var min: Int?
    public var max: Int?
    public var location: SourceLocation

    public init(name: String, refresh: InstanceRefreshSpec? = nil, desired: Int? = nil, min: Int? = nil, max: Int? = nil,
                location: SourceLocation = SourceLocation(file: "", line: 1, column: 1)) {
        self.name = name
        self.refresh = refresh
        self.desired = desired
        self.min = min
        self.max = max
        self.location = location
    }
}

public struct RetentionSpec: Sendable, Equatable {
    /// How many of the newest images matching `namePattern` to keep (the new one among them).
    public var keep: Int
    /// An EC2 name filter (`*` and `?`); by default derived from the AMI's name.
    public var namePattern: String
    public var location: SourceLocation

    public init(keep: Int, namePattern: String, location: SourceLocation = SourceLocation(file: "", line: 1, column: 1)) {
        self.keep = keep
        self.namePattern = namePattern
        self.location = location
    }
}

/// EC2's name filter wildcards: `*` any run of characters, `?` one character.
public enum ImageNamePattern {
    public static func matches(_ name: String, _ pattern: String) -> Bool {
        let text = Array(name), glob = Array(pattern)
        var t = 0, g = 0
        var starAt = -1, resumeAt = 0
        while t < text.count {
            if g < glob.count, glob[g] != "*", glob[g] == "?" || glob[g] == text[t] {
                t += 1; g += 1
            } else if g < glob.count, glob[g] == "*" {
                starAt = g; resumeAt = t; g += 1
            } else if starAt >= 0 {
                g = starAt + 1; resumeAt += 1; t = resumeAt
            } else {
                return false
            }
        }
        while g < glob.count, glob[g] == "*" { g += 1 }
        return g == glob.count
    }

    /// The pattern for a name written with interpolations: each `${...}` becomes `*`
    /// (`web-${build.timestamp}` -> `web-*`); nil when nothing fixed is left.
    public static func derived(fromRawName raw: String) -> String? {
        var pattern = ""
        var index = raw.startIndex
        while index < raw.endIndex {
            if raw[index...].hasPrefix("$${") {
                pattern += "${"
                index = raw.index(index, offsetBy: 3)
            } else if raw[index...].hasPrefix("${"), let close = raw[index...].firstIndex(of: "}") {
                if !pattern.hasSuffix("*") { pattern += "*" }
                index = raw.index(after: close)
            } else {
                pattern.append(raw[index])
                index = raw.index(after: index)
            }
        }
        return hasFixedPart(pattern) ? pattern : nil
    }

    public static func hasFixedPart(_ pattern: String) -> Bool {
        pattern.contains { $0 != "*" && $0 != "?" }
    }
}
