import Foundation

/// The few EC2 query-API actions AMI registration needs (API version 2016-11-15, form POST).
public struct EC2Client: Sendable {
    public static let apiVersion = "2016-11-15"
    public var client: AWSServiceClient

    public init(configuration: AWSConfiguration, transport: any HTTPTransport, retry: RetryPolicy = .standard) {
        client = AWSServiceClient(service: "ec2", configuration: configuration, transport: transport, retry: retry)
    }

    public struct Snapshot: Sendable, Equatable {
        public var id: String
        public var state: String        // pending | completed | error | ...
        public var progress: String?
        public var stateMessage: String?
    }

    public struct Image: Sendable, Equatable {
        public var id: String
        public var state: String        // pending | available | failed | ...
        public var stateReason: String?
    }

    /// The form body for one action: Action and Version first, then the parameters in order.
    public static func formBody(action: String, _ parameters: [(String, String)]) -> String {
        URIEncoding.form([("Action", action), ("Version", apiVersion)] + parameters)
    }

    /// Calls an action and returns the parsed XML answer.
    public func call(_ action: String, _ parameters: [(String, String)]) async throws -> XMLTree {
        let body = Data(Self.formBody(action: action, parameters).utf8)
        let response = try await client.send(method: "POST", path: "/",
                                             headers: ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"],
                                             body: body)
        do {
            return try XMLTree.parse(response.body)
        } catch {
            throw AWSError(code: "InvalidResponse", message: "\(action): \(error)", httpStatus: response.status)
        }
    }

    public func describeSnapshots(ids: [String]) async throws -> [Snapshot] {
        let root = try await call("DescribeSnapshots", Self.numbered("SnapshotId", ids))
        return root.items("snapshotSet").compactMap { item in
            guard let id = item.text("snapshotId") else { return nil }
            return Snapshot(id: id, state: item.text("status") ?? "", progress: item.text("progress"),
                            stateMessage: item.text("statusMessage"))
        }
    }

    /// Registers an AMI; returns its id.
    public func registerImage(_ request: RegisterImageRequest) async throws -> String {
        let root = try await call("RegisterImage", request.parameters)
        guard let id = root.text("imageId") else {
            throw AWSError(code: "InvalidResponse", message: "RegisterImage answered without an imageId", httpStatus: 200)
        }
        return id
    }

    public func describeImages(ids: [String]) async throws -> [Image] {
        let root = try await call("DescribeImages", Self.numbered("ImageId", ids))
        return root.items("imagesSet").compactMap { item in
            guard let id = item.text("imageId") else { return nil }
            return Image(id: id, state: item.text("imageState") ?? "", stateReason: item.first("stateReason")?.text("message"))
        }
    }

    public func createTags(resources: [String], tags: [String: String]) async throws {
        guard !tags.isEmpty else { return }
        var parameters = Self.numbered("ResourceId", resources)
        for (number, tag) in tags.sorted(by: { $0.key < $1.key }).enumerated() {
            parameters.append(("Tag.\(number + 1).Key", tag.key))
            parameters.append(("Tag.\(number + 1).Value", tag.value))
        }
        _ = try await call("CreateTags", parameters)
    }

    public func deregisterImage(id: String) async throws {
        _ = try await call("DeregisterImage", [("ImageId", id)])
    }

    public func deleteSnapshot(id: String) async throws {
        _ = try await call("DeleteSnapshot", [("SnapshotId", id)])
    }

    static func numbered(_ name: String, _ values: [String]) -> [(String, String)] {
        values.enumerated().map { ("\(name).\($0.offset + 1)", $0.element) }
    }
}

/// RegisterImage for an EBS-backed HVM image with one root volume made from a snapshot.
public struct RegisterImageRequest: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var architecture: String      // x86_64 | arm64
    public var bootMode: String          // legacy-bios | uefi
    public var rootDeviceName: String
    public var snapshotID: String
    public var volumeType: String
    public var volumeSizeGiB: Int
    public var enaSupport: Bool

    public init(name: String, description: String? = nil, architecture: String, bootMode: String,
                rootDeviceName: String = "/dev/xvda", snapshotID: String, volumeType: String = "gp3",
                volumeSizeGiB: Int, enaSupport: Bool = true) {
        self.name = name
        self.description = description
        self.architecture = architecture
        self.bootMode = bootMode
        self.rootDeviceName = rootDeviceName
        self.snapshotID = snapshotID
        self.volumeType = volumeType
        self.volumeSizeGiB = volumeSizeGiB
        self.enaSupport = enaSupport
    }

    /// The form parameters, in the order they are sent.
    public var parameters: [(String, String)] {
        var fields: [(String, String)] = [("Name", name)]
        if let description { fields.append(("Description", description)) }
        fields += [
            ("Architecture", architecture),
            ("VirtualizationType", "hvm"),
            ("RootDeviceName", rootDeviceName),
            ("BootMode", bootMode),
            ("EnaSupport", enaSupport ? "true" : "false"),
            ("BlockDeviceMapping.1.DeviceName", rootDeviceName),
            ("BlockDeviceMapping.1.Ebs.SnapshotId", snapshotID),
            ("BlockDeviceMapping.1.Ebs.VolumeType", volumeType),
            ("BlockDeviceMapping.1.Ebs.VolumeSize", String(volumeSizeGiB)),
            ("BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true"),
        ]
        return fields
    }
}
