import Foundation

/// Launch templates and their versions (EC2 query API).
extension EC2Client {
    public struct LaunchTemplate: Sendable, Equatable {
        public var id: String
        public var name: String
        public var defaultVersion: Int
        public var latestVersion: Int
        public var tags: [String: String]
    }

    public struct LaunchTemplateVersion: Sendable, Equatable {
        public var templateID: String
        public var templateName: String
        public var number: Int
        public var description: String?
        public var isDefault: Bool
        /// nil when the version names no image, or an SSM parameter (`resolve:ssm:...`).
        public var imageID: String?
        /// `spot` when the version launches spot instances.
        public var marketType: String?
        /// Whether the version sets network interfaces (security groups then belong to them).
        public var hasNetworkInterfaces: Bool
    }

    /// The fields of a launch template version that Kiln sets; what is nil or empty is not sent.
    public struct LaunchTemplateData: Sendable, Equatable {
        public struct TagSpecification: Sendable, Equatable {
            public var resourceType: String     // instance | volume | launch-template ...
            public var tags: [String: String]
            public init(resourceType: String, tags: [String: String]) {
                self.resourceType = resourceType
                self.tags = tags
            }
        }

        public var imageID: String?
        public var instanceType: String?
        public var keyName: String?
        public var securityGroupIDs: [String]
        /// Base64, as the API wants it.
        public var userData: String?
        public var tagSpecifications: [TagSpecification]
        /// `spot`, or nil for on-demand.
        public var marketType: String?
        public var spotMaxPrice: String?

        public init(imageID: String? = nil, instanceType: String? = nil, keyName: String? = nil,
                    securityGroupIDs: [String] = [], userData: String? = nil, tagSpecifications: [TagSpecification] = [],
                    marketType: String? = nil, spotMaxPrice: String? = nil) {
            self.imageID = imageID
            self.instanceType = instanceType
            self.keyName = keyName
            self.securityGroupIDs = securityGroupIDs
            self.userData = userData
            self.tagSpecifications = tagSpecifications
            self.marketType = marketType
            self.spotMaxPrice = spotMaxPrice
        }

        /// The form parameters under `prefix` (`LaunchTemplateData`), in the order they are sent.
        public func parameters(prefix: String = "LaunchTemplateData") -> [(String, String)] {
            var fields: [(String, String)] = []
            if let imageID { fields.append(("\(prefix).ImageId", imageID)) }
            if let instanceType { fields.append(("\(prefix).InstanceType", instanceType)) }
            if let keyName { fields.append(("\(prefix).KeyName", keyName)) }
            fields += EC2Client.numbered("\(prefix).SecurityGroupId", securityGroupIDs)
            if let userData { fields.append(("\(prefix).UserData", userData)) }
            fields += EC2Client.tagSpecificationParameters("\(prefix).TagSpecification", tagSpecifications)
            if let marketType {
                fields.append(("\(prefix).InstanceMarketOptions.MarketType", marketType))
                if let spotMaxPrice { fields.append(("\(prefix).InstanceMarketOptions.SpotOptions.MaxPrice", spotMaxPrice)) }
            }
            return fields
        }
    }

    static func tagSpecificationParameters(_ prefix: String, _ specifications: [LaunchTemplateData.TagSpecification])
        -> [(String, String)] {
        var fields: [(String, String)] = []
        for (index, specification) in specifications.enumerated() {
            let base = "\(prefix).\(index + 1)"
            fields.append(("\(base).ResourceType", specification.resourceType))
            for (number, tag) in specification.tags.sorted(by: { $0.key < $1.key }).enumerated() {
                fields.append(("\(base).Tag.\(number + 1).Key", tag.key))
                fields.append(("\(base).Tag.\(number + 1).Value", tag.value))
            }
        }
        return fields
    }

    /// The named templates; a name that does not exist is simply absent (AWS answers an error for it).
    public func describeLaunchTemplates(names: [String]) async throws -> [LaunchTemplate] {
        do {
            let root = try await call("DescribeLaunchTemplates", Self.numbered("LaunchTemplateName", names))
            return root.items("launchTemplates").compactMap(Self.launchTemplate)
        } catch let error as AWSError where error.code.hasPrefix("InvalidLaunchTemplateName.NotFound")
                                            || error.code == "InvalidLaunchTemplateId.NotFound" {
            return []
        }
    }

    /// Every launch template of the account in the region.
    public func allLaunchTemplates() async throws -> [LaunchTemplate] {
        var templates: [LaunchTemplate] = []
        var token: String?
        repeat {
            var parameters: [(String, String)] = [("MaxResults", "200")]
            if let token { parameters.append(("NextToken", token)) }
            let root = try await call("DescribeLaunchTemplates", parameters)
            templates += root.items("launchTemplates").compactMap(Self.launchTemplate)
            token = root.text("nextToken").flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return templates
    }

    static func launchTemplate(_ item: XMLTree) -> LaunchTemplate? {
        guard let id = item.text("launchTemplateId"), let name = item.text("launchTemplateName") else { return nil }
        var tags: [String: String] = [:]
        for tag in item.items("tagSet") { if let key = tag.text("key") { tags[key] = tag.text("value") ?? "" } }
        return LaunchTemplate(id: id, name: name, defaultVersion: Int(item.text("defaultVersionNumber") ?? "") ?? 1,
                              latestVersion: Int(item.text("latestVersionNumber") ?? "") ?? 1, tags: tags)
    }

    static func launchTemplateVersion(_ item: XMLTree) -> LaunchTemplateVersion? {
        guard let id = item.text("launchTemplateId"), let number = item.text("versionNumber").flatMap({ Int($0) }) else {
            return nil
        }
        let data = item.first("launchTemplateData")
        let image = data?.text("imageId").flatMap { $0.hasPrefix("ami-") ? $0 : nil }
        return LaunchTemplateVersion(templateID: id, templateName: item.text("launchTemplateName") ?? "", number: number,
                                     description: item.text("versionDescription").flatMap { $0.isEmpty ? nil : $0 },
                                     isDefault: item.text("defaultVersion") == "true", imageID: image,
                                     marketType: data?.first("instanceMarketOptions")?.text("marketType"),
                                     hasNetworkInterfaces: !(data?.items("networkInterfaceSet").isEmpty ?? true))
    }

    /// Versions of one template: numbers, `$Default` or `$Latest`; every version when `versions` is empty.
    public func describeLaunchTemplateVersions(templateID: String, versions: [String] = []) async throws -> [LaunchTemplateVersion] {
        var found: [LaunchTemplateVersion] = []
        var token: String?
        repeat {
            var parameters: [(String, String)] = [("LaunchTemplateId", templateID)]
            parameters += Self.numbered("LaunchTemplateVersion", versions)
            if versions.isEmpty { parameters.append(("MaxResults", "200")) }
            if let token { parameters.append(("NextToken", token)) }
            let root = try await call("DescribeLaunchTemplateVersions", parameters)
            found += root.items("launchTemplateVersionSet").compactMap(Self.launchTemplateVersion)
            token = root.text("nextToken").flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return found
    }

    /// The default and the latest version of every template of the account, in one listing.
    public func defaultAndLatestLaunchTemplateVersions() async throws -> [LaunchTemplateVersion] {
        var found: [LaunchTemplateVersion] = []
        var token: String?
        repeat {
            var parameters = Self.numbered("LaunchTemplateVersion", ["$Default", "$Latest"])
            parameters.append(("MaxResults", "200"))
            if let token { parameters.append(("NextToken", token)) }
            let root = try await call("DescribeLaunchTemplateVersions", parameters)
            found += root.items("launchTemplateVersionSet").compactMap(Self.launchTemplateVersion)
            token = root.text("nextToken").flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return found
    }

    public static func createLaunchTemplateParameters(name: String, data: LaunchTemplateData, versionDescription: String?,
                                                      tags: [String: String]) -> [(String, String)] {
        var parameters: [(String, String)] = [("LaunchTemplateName", name)]
        if let versionDescription { parameters.append(("VersionDescription", versionDescription)) }
        parameters += data.parameters()
        if !tags.isEmpty {
            parameters += tagSpecificationParameters("TagSpecification",
                                                     [.init(resourceType: "launch-template", tags: tags)])
        }
        return parameters
    }

    /// Creates a template whose version 1 (its default) holds `data`.
    public func createLaunchTemplate(name: String, data: LaunchTemplateData, versionDescription: String?,
                                     tags: [String: String]) async throws -> LaunchTemplate {
        let root = try await call("CreateLaunchTemplate", Self.createLaunchTemplateParameters(
            name: name, data: data, versionDescription: versionDescription, tags: tags))
        guard let template = root.first("launchTemplate").flatMap(Self.launchTemplate) else {
            throw AWSError(code: "InvalidResponse", message: "CreateLaunchTemplate answered without a launch template",
                           httpStatus: 200)
        }
        return template
    }

    public static func createLaunchTemplateVersionParameters(templateID: String, sourceVersion: Int?, data: LaunchTemplateData,
                                                             versionDescription: String?) -> [(String, String)] {
        var parameters: [(String, String)] = [("LaunchTemplateId", templateID)]
        if let sourceVersion { parameters.append(("SourceVersion", String(sourceVersion))) }
        if let versionDescription { parameters.append(("VersionDescription", versionDescription)) }
        return parameters + data.parameters()
    }

    /// Adds a version; with `sourceVersion`, AWS starts from that version and `data` overrides its fields.
    public func createLaunchTemplateVersion(templateID: String, sourceVersion: Int?, data: LaunchTemplateData,
                                            versionDescription: String?) async throws -> LaunchTemplateVersion {
        let root = try await call("CreateLaunchTemplateVersion", Self.createLaunchTemplateVersionParameters(
            templateID: templateID, sourceVersion: sourceVersion, data: data, versionDescription: versionDescription))
        guard let version = root.first("launchTemplateVersion").flatMap(Self.launchTemplateVersion) else {
            throw AWSError(code: "InvalidResponse", message: "CreateLaunchTemplateVersion answered without a version",
                           httpStatus: 200)
        }
        return version
    }

    public func setDefaultLaunchTemplateVersion(templateID: String, version: Int) async throws {
        _ = try await call("ModifyLaunchTemplate", [("LaunchTemplateId", templateID), ("SetDefaultVersion", String(version))])
    }

    public struct VersionDeletionFailure: Sendable, Equatable {
        public var version: Int
        public var code: String
        public var message: String
    }

    /// Deletes versions (never the default: AWS refuses); returns those AWS did not delete, and why.
    public func deleteLaunchTemplateVersions(templateID: String, versions: [Int]) async throws -> [VersionDeletionFailure] {
        let root = try await call("DeleteLaunchTemplateVersions",
                                  [("LaunchTemplateId", templateID)] + Self.numbered("LaunchTemplateVersion", versions.map(String.init)))
        return root.items("unsuccessfullyDeletedLaunchTemplateVersionSet").map { item in
            VersionDeletionFailure(version: Int(item.text("versionNumber") ?? "") ?? 0,
                                   code: item.first("responseError")?.text("code") ?? "",
                                   message: item.first("responseError")?.text("message") ?? "")
        }
    }
}
