import Foundation

/// The Auto Scaling query-API actions a rollout needs (API version 2011-01-01, form POST, lists
/// as `Name.member.N`, answers under `<ActionResult>`).
public struct AutoScalingClient: Sendable {
    public static let apiVersion = "2011-01-01"
    public var client: AWSServiceClient

    public init(configuration: AWSConfiguration, transport: any HTTPTransport, retry: RetryPolicy = .standard) {
        client = AWSServiceClient(service: "autoscaling", configuration: configuration, transport: transport, retry: retry)
    }

    /// How a group names its launch template: by id or name, and `$Default`, `$Latest` or a number.
    public struct LaunchTemplateReference: Sendable, Equatable {
        public var id: String?
        public var name: String?
        /// nil means `$Default` (AWS's default when a group names no version).
        public var version: String?

        public init(id: String? = nil, name: String? = nil, version: String? = nil) {
            self.id = id
            self.name = name
            self.version = version
        }

        /// Whether this names the template with this id or name.
        public func names(templateID: String, templateName: String) -> Bool {
            id == templateID || (id == nil && name == templateName)
        }

        public var versionText: String { version ?? "$Default" }
    }

    public struct Group: Sendable, Equatable {
        public var name: String
        public var launchTemplate: LaunchTemplateReference?
        /// The mixed instances policy's template, then those of its overrides.
        public var mixedInstancesTemplates: [LaunchTemplateReference]
        public var launchConfigurationName: String?
        public var minSize: Int
        public var maxSize: Int
        public var desiredCapacity: Int
        public var instanceIDs: [String]

        public init(name: String, launchTemplate: LaunchTemplateReference? = nil,
                    mixedInstancesTemplates: [LaunchTemplateReference] = [], launchConfigurationName: String? = nil,
                    minSize: Int = 0, maxSize: Int = 0, desiredCapacity: Int = 0, instanceIDs: [String] = []) {
            self.name = name
            self.launchTemplate = launchTemplate
            self.mixedInstancesTemplates = mixedInstancesTemplates
            self.launchConfigurationName = launchConfigurationName
            self.minSize = minSize
            self.maxSize = maxSize
            self.desiredCapacity = desiredCapacity
            self.instanceIDs = instanceIDs
        }

        /// Every launch template reference of the group.
        public var templateReferences: [LaunchTemplateReference] {
            (launchTemplate.map { [$0] } ?? []) + mixedInstancesTemplates
        }
    }

    public struct InstanceRefresh: Sendable, Equatable {
        public var id: String
        /// Pending | InProgress | Successful | Failed | Cancelling | Cancelled | RollbackInProgress |
        /// RollbackSuccessful | RollbackFailed | Baking
        public var status: String
        public var statusReason: String?
        public var percentageComplete: Int?
        public var instancesToUpdate: Int?

        public init(id: String, status: String, statusReason: String? = nil, percentageComplete: Int? = nil,
                    instancesToUpdate: Int? = nil) {
            self.id = id
            self.status = status
            self.statusReason = statusReason
            self.percentageComplete = percentageComplete
            self.instancesToUpdate = instancesToUpdate
        }
    }

    public struct RefreshPreferences: Sendable, Equatable {
        public var minHealthyPercentage: Int?
        public var instanceWarmupSeconds: Int?
        public init(minHealthyPercentage: Int? = nil, instanceWarmupSeconds: Int? = nil) {
            self.minHealthyPercentage = minHealthyPercentage
            self.instanceWarmupSeconds = instanceWarmupSeconds
        }
    }

    /// UpdateAutoScalingGroup: only what is set here is sent, so nothing else of the group changes.
    public struct GroupUpdate: Sendable, Equatable {
        public var name: String
        public var launchTemplate: LaunchTemplateReference?
        public var minSize: Int?
        public var maxSize: Int?
        public var desiredCapacity: Int?

        public init(name: String, launchTemplate: LaunchTemplateReference? = nil, minSize: Int? = nil,
                    maxSize: Int? = nil, desiredCapacity: Int? = nil) {
            self.name = name
            self.launchTemplate = launchTemplate
            self.minSize = minSize
            self.maxSize = maxSize
            self.desiredCapacity = desiredCapacity
        }

        public var isEmpty: Bool { launchTemplate == nil && minSize == nil && maxSize == nil && desiredCapacity == nil }

        public var parameters: [(String, String)] {
            var fields: [(String, String)] = [("AutoScalingGroupName", name)]
            if let template = launchTemplate {
                if let id = template.id { fields.append(("LaunchTemplate.LaunchTemplateId", id)) }
                else if let name = template.name { fields.append(("LaunchTemplate.LaunchTemplateName", name)) }
                if let version = template.version { fields.append(("LaunchTemplate.Version", version)) }
            }
            if let minSize { fields.append(("MinSize", String(minSize))) }
            if let maxSize { fields.append(("MaxSize", String(maxSize))) }
            if let desiredCapacity { fields.append(("DesiredCapacity", String(desiredCapacity))) }
            return fields
        }
    }

    public static func formBody(action: String, _ parameters: [(String, String)]) -> String {
        URIEncoding.form([("Action", action), ("Version", apiVersion)] + parameters)
    }

    /// Calls an action and returns its `<ActionResult>` element (the root when there is none).
    public func call(_ action: String, _ parameters: [(String, String)]) async throws -> XMLTree {
        let body = Data(Self.formBody(action: action, parameters).utf8)
        let response = try await client.send(method: "POST", path: "/",
                                             headers: ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"],
                                             body: body)
        do {
            let root = try XMLTree.parse(response.body)
            return root.first("\(action)Result") ?? root
        } catch {
            throw AWSError(code: "InvalidResponse", message: "\(action): \(error)", httpStatus: response.status)
        }
    }

    /// The named groups (an unknown name is simply absent), or every group when `names` is empty.
    public func describeGroups(names: [String] = []) async throws -> [Group] {
        var groups: [Group] = []
        var token: String?
        repeat {
            var parameters = Self.members("AutoScalingGroupNames", names)
            if names.isEmpty { parameters.append(("MaxRecords", "100")) }
            if let token { parameters.append(("NextToken", token)) }
            let result = try await call("DescribeAutoScalingGroups", parameters)
            groups += result.members("AutoScalingGroups").compactMap(Self.group)
            token = result.text("NextToken").flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return groups
    }

    static func group(_ node: XMLTree) -> Group? {
        guard let name = node.text("AutoScalingGroupName") else { return nil }
        var mixed: [LaunchTemplateReference] = []
        if let policy = node.first("MixedInstancesPolicy")?.first("LaunchTemplate") {
            if let spec = policy.first("LaunchTemplateSpecification") { mixed.append(reference(spec)) }
            for override in policy.members("Overrides") {
                if let spec = override.first("LaunchTemplateSpecification") { mixed.append(reference(spec)) }
            }
        }
        return Group(name: name, launchTemplate: node.first("LaunchTemplate").map(reference), mixedInstancesTemplates: mixed,
                     launchConfigurationName: node.text("LaunchConfigurationName").flatMap { $0.isEmpty ? nil : $0 },
                     minSize: Int(node.text("MinSize") ?? "") ?? 0, maxSize: Int(node.text("MaxSize") ?? "") ?? 0,
                     desiredCapacity: Int(node.text("DesiredCapacity") ?? "") ?? 0,
                     instanceIDs: node.members("Instances").compactMap { $0.text("InstanceId") })
    }

    static func reference(_ node: XMLTree) -> LaunchTemplateReference {
        func nonEmpty(_ key: String) -> String? { node.text(key).flatMap { $0.isEmpty ? nil : $0 } }
        return LaunchTemplateReference(id: nonEmpty("LaunchTemplateId"), name: nonEmpty("LaunchTemplateName"),
                                       version: nonEmpty("Version"))
    }

    public func updateGroup(_ update: GroupUpdate) async throws {
        _ = try await call("UpdateAutoScalingGroup", update.parameters)
    }

    public static func startInstanceRefreshParameters(group: String, preferences: RefreshPreferences) -> [(String, String)] {
        var parameters: [(String, String)] = [("AutoScalingGroupName", group), ("Strategy", "Rolling")]
        if let percentage = preferences.minHealthyPercentage {
            parameters.append(("Preferences.MinHealthyPercentage", String(percentage)))
        }
        if let warmup = preferences.instanceWarmupSeconds {
            parameters.append(("Preferences.InstanceWarmup", String(warmup)))
        }
        return parameters
    }

    /// Starts a rolling instance refresh; returns its id.
    public func startInstanceRefresh(group: String, preferences: RefreshPreferences) async throws -> String {
        let result = try await call("StartInstanceRefresh", Self.startInstanceRefreshParameters(group: group, preferences: preferences))
        guard let id = result.text("InstanceRefreshId"), !id.isEmpty else {
            throw AWSError(code: "InvalidResponse", message: "StartInstanceRefresh answered without an InstanceRefreshId",
                           httpStatus: 200)
        }
        return id
    }

    public func describeInstanceRefreshes(group: String, ids: [String] = []) async throws -> [InstanceRefresh] {
        let result = try await call("DescribeInstanceRefreshes",
                                    [("AutoScalingGroupName", group)] + Self.members("InstanceRefreshIds", ids))
        return result.members("InstanceRefreshes").compactMap { node in
            guard let id = node.text("InstanceRefreshId") else { return nil }
            return InstanceRefresh(id: id, status: node.text("Status") ?? "",
                                   statusReason: node.text("StatusReason").flatMap { $0.isEmpty ? nil : $0 },
                                   percentageComplete: node.text("PercentageComplete").flatMap { Int($0) },
                                   instancesToUpdate: node.text("InstancesToUpdate").flatMap { Int($0) })
        }
    }

    /// Cancels the group's refresh in progress; returns its id.
    public func cancelInstanceRefresh(group: String) async throws -> String {
        let result = try await call("CancelInstanceRefresh", [("AutoScalingGroupName", group)])
        return result.text("InstanceRefreshId") ?? ""
    }

    /// The image id of each named launch configuration.
    public func describeLaunchConfigurations(names: [String]) async throws -> [String: String] {
        guard !names.isEmpty else { return [:] }
        var images: [String: String] = [:]
        for chunk in stride(from: 0, to: names.count, by: 50).map({ Array(names[$0..<min($0 + 50, names.count)]) }) {
            let result = try await call("DescribeLaunchConfigurations", Self.members("LaunchConfigurationNames", chunk))
            for node in result.members("LaunchConfigurations") {
                if let name = node.text("LaunchConfigurationName"), let image = node.text("ImageId") { images[name] = image }
            }
        }
        return images
    }

    static func members(_ name: String, _ values: [String]) -> [(String, String)] {
        values.enumerated().map { ("\(name).member.\($0.offset + 1)", $0.element) }
    }
}

extension XMLTree {
    /// The `<member>`s of a list element (the Auto Scaling query API's lists).
    public func members(_ list: String) -> [XMLTree] { first(list)?.all("member") ?? [] }
}
