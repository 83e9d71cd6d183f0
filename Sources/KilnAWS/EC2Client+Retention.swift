import Foundation

/// What image retention reads: the account's own images with their snapshots, and the instances
/// still using some images.
extension EC2Client {
    public struct OwnedImage: Sendable, Equatable {
        public var id: String
        public var name: String
        public var state: String
        /// ISO 8601, as AWS gives it.
        public var creationDate: String
        public var snapshotIDs: [String]
        public var tags: [String: String]

        public init(id: String, name: String, state: String = "available", creationDate: String,
                    snapshotIDs: [String] = [], tags: [String: String] = [:]) {
            self.id = id
            self.name = name
            self.state = state
            self.creationDate = creationDate
            self.snapshotIDs = snapshotIDs
            self.tags = tags
        }
    }

    public struct InstanceUse: Sendable, Equatable {
        public var id: String
        public var imageID: String
        public var state: String
    }

    /// Instance states in which an instance still stands on its image.
    public static let liveInstanceStates = ["pending", "running", "shutting-down", "stopping", "stopped"]

    /// The account's own images whose name matches `namePattern` (`*` and `?` wildcards).
    public func describeOwnedImages(namePattern: String) async throws -> [OwnedImage] {
        var images: [OwnedImage] = []
        var token: String?
        repeat {
            var parameters: [(String, String)] = [("Owner.1", "self"), ("Filter.1.Name", "name"), ("Filter.1.Value.1", namePattern),
                                                  ("MaxResults", "1000")]
            if let token { parameters.append(("NextToken", token)) }
            let root = try await call("DescribeImages", parameters)
            images += root.items("imagesSet").compactMap(Self.ownedImage)
            token = root.text("nextToken").flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return images
    }

    /// The account's own images among `ids`; those that do not exist (or are not the account's) are absent.
    public func describeOwnedImages(ids: [String]) async throws -> [OwnedImage] {
        guard !ids.isEmpty else { return [] }
        do {
            let root = try await call("DescribeImages", [("Owner.1", "self")] + Self.numbered("ImageId", ids))
            return root.items("imagesSet").compactMap(Self.ownedImage)
        } catch let error as AWSError where error.code.hasPrefix("InvalidAMIID.") {
            // One unknown id fails the whole call: ask for each alone.
            guard ids.count > 1 else { return [] }
            var found: [OwnedImage] = []
            for id in ids { found += try await describeOwnedImages(ids: [id]) }
            return found
        }
    }

    static func ownedImage(_ item: XMLTree) -> OwnedImage? {
        guard let id = item.text("imageId") else { return nil }
        var tags: [String: String] = [:]
        for tag in item.items("tagSet") { if let key = tag.text("key") { tags[key] = tag.text("value") ?? "" } }
        let snapshots = item.items("blockDeviceMapping").compactMap { $0.first("ebs")?.text("snapshotId") }
            .filter { !$0.isEmpty }
        return OwnedImage(id: id, name: item.text("name") ?? "", state: item.text("imageState") ?? "",
                          creationDate: item.text("creationDate") ?? "", snapshotIDs: snapshots, tags: tags)
    }

    /// Instances not yet terminated that were launched from one of `imageIDs`.
    public func describeInstances(usingImages imageIDs: [String]) async throws -> [InstanceUse] {
        var uses: [InstanceUse] = []
        for start in stride(from: 0, to: imageIDs.count, by: 100) {
            let chunk = Array(imageIDs[start..<min(start + 100, imageIDs.count)])
            var token: String?
            repeat {
                var parameters: [(String, String)] = [("Filter.1.Name", "image-id")]
                parameters += Self.numbered("Filter.1.Value", chunk)
                parameters.append(("Filter.2.Name", "instance-state-name"))
                parameters += Self.numbered("Filter.2.Value", Self.liveInstanceStates)
                parameters.append(("MaxResults", "1000"))
                if let token { parameters.append(("NextToken", token)) }
                let root = try await call("DescribeInstances", parameters)
                for reservation in root.items("reservationSet") {
                    for instance in reservation.items("instancesSet") {
                        guard let id = instance.text("instanceId"), let image = instance.text("imageId") else { continue }
                        uses.append(InstanceUse(id: id, imageID: image, state: instance.first("instanceState")?.text("name") ?? ""))
                    }
                }
                token = root.text("nextToken").flatMap { $0.isEmpty ? nil : $0 }
            } while token != nil
        }
        return uses
    }
}
