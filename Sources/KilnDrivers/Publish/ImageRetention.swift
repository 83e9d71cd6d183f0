import Foundation
import KilnAWS

/// Something that still stands on an image, so the image must stay.
public enum ImageUse: Sendable, Equatable, CustomStringConvertible {
    /// The default or latest version of a launch template (what launches without naming a version).
    case launchTemplateVersion(template: String, templateID: String, version: Int, role: String)
    /// A group launches from it, through a launch template version or a launch configuration.
    case group(name: String, through: String)
    case instance(id: String, state: String)

    public var description: String {
        switch self {
        case .launchTemplateVersion(let template, let id, let version, let role):
            return "in use by launch template \(template) (\(id)) version \(version) (\(role))"
        case .group(let name, let through): return "in use by group \(name) (\(through))"
        case .instance(let id, let state): return "in use by instance \(id) (\(state))"
        }
    }
}

/// A launch template version Kiln made that nothing uses any more, pointing at `imageID`.
public struct StaleLaunchTemplateVersion: Sendable, Equatable {
    public var templateID: String
    public var templateName: String
    public var version: Int
    public var imageID: String
}

/// Which images go and which stay (and why), and the removals in the order AWS needs them.
public struct RetentionPlan: Sendable, Equatable {
    public enum KeepReason: Sendable, Equatable, CustomStringConvertible {
        case justBuilt
        case newest(rank: Int, keep: Int)
        case notReady(state: String)
        case inUse(ImageUse)

        public var description: String {
            switch self {
            case .justBuilt: return "just built"
            case .newest(let rank, let keep): return "newest \(rank) of \(keep) kept"
            case .notReady(let state): return "\(state) (not registered yet; another build may be making it)"
            case .inUse(let use): return use.description
            }
        }
    }

    public struct Kept: Sendable, Equatable {
        public var image: EC2Client.OwnedImage
        public var reasons: [KeepReason]
    }

    public enum Action: Sendable, Equatable, CustomStringConvertible {
        case deleteLaunchTemplateVersions(templateID: String, templateName: String, versions: [Int], imageID: String)
        case deregisterImage(id: String, name: String)
        case deleteSnapshot(id: String, imageID: String)

        /// The image whose removal this action is part of.
        public var imageID: String {
            switch self {
            case .deleteLaunchTemplateVersions(_, _, _, let image), .deleteSnapshot(_, let image): return image
            case .deregisterImage(let id, _): return id
            }
        }

        public var description: String {
            switch self {
            case .deleteLaunchTemplateVersions(let id, let name, let versions, let image):
                let list = versions.map(String.init).joined(separator: ", ")
                return "delete launch template \(name) (\(id)) version\(versions.count == 1 ? "" : "s") \(list) (image \(image))"
            case .deregisterImage(let id, let name): return "deregister image \(id) \(name)"
            case .deleteSnapshot(let id, let image): return "delete snapshot \(id) (of \(image))"
            }
        }
    }

    public var namePattern: String
    public var keep: Int
    public var kept: [Kept]
    public var removed: [EC2Client.OwnedImage]
    public var actions: [Action]

    /// Keeps the `keep` newest available images, the one just built, those not registered yet and
    /// every image something uses; removes the rest with their snapshots (unless a kept image
    /// shares them) and the stale Kiln launch template versions pointing at them. Actions come in
    /// dependency order: versions, then images, then snapshots. `keep` 0 removes every image that
    /// nothing keeps (explicitly named images).
    public static func decide(images: [EC2Client.OwnedImage], keep: Int, namePattern: String, protected: Set<String>,
                              uses: [String: [ImageUse]], staleVersions: [StaleLaunchTemplateVersion]) -> RetentionPlan {
        let ordered = images.filter { $0.state != "deregistered" }.sorted(by: newerFirst)
        var kept: [Kept] = []
        var removed: [EC2Client.OwnedImage] = []
        var rank = 0
        for image in ordered {
            var reasons: [KeepReason] = []
            if protected.contains(image.id) { reasons.append(.justBuilt) }
            switch image.state {
            case "available", "disabled":
                rank += 1
                if rank <= keep { reasons.append(.newest(rank: rank, keep: keep)) }
            case "pending", "transient":
                reasons.append(.notReady(state: image.state))
            default:
                break                                   // failed, invalid, error: not worth keeping for themselves
            }
            reasons += (uses[image.id] ?? []).map(KeepReason.inUse)
            if reasons.isEmpty { removed.append(image) } else { kept.append(Kept(image: image, reasons: reasons)) }
        }

        let keptSnapshots = Set(kept.flatMap(\.image.snapshotIDs))
        var actions: [Action] = []
        for image in removed {
            let versions = staleVersions.filter { $0.imageID == image.id }
            for templateID in unique(versions.map(\.templateID)) {
                let ofTemplate = versions.filter { $0.templateID == templateID }
                actions.append(.deleteLaunchTemplateVersions(templateID: templateID, templateName: ofTemplate[0].templateName,
                                                             versions: ofTemplate.map(\.version).sorted(), imageID: image.id))
            }
        }
        actions += removed.map { .deregisterImage(id: $0.id, name: $0.name) }
        var deleted: Set<String> = []
        for image in removed {
            for snapshot in image.snapshotIDs where !keptSnapshots.contains(snapshot) && deleted.insert(snapshot).inserted {
                actions.append(.deleteSnapshot(id: snapshot, imageID: image.id))
            }
        }
        return RetentionPlan(namePattern: namePattern, keep: keep, kept: kept, removed: removed, actions: actions)
    }

    /// Newest first: creation date, then name (names usually carry a timestamp), then id.
    static func newerFirst(_ a: EC2Client.OwnedImage, _ b: EC2Client.OwnedImage) -> Bool {
        if a.creationDate != b.creationDate { return a.creationDate > b.creationDate }
        if a.name != b.name { return a.name > b.name }
        return a.id > b.id
    }

    static func unique(_ values: [String]) -> [String] {
        var seen: Set<String> = []
        return values.filter { seen.insert($0).inserted }
    }

    /// Plain lines: what stays and why, what goes.
    public var lines: [String] {
        var lines: [String] = []
        for entry in kept {
            lines.append("keep   \(entry.image.id) \(entry.image.name): " + entry.reasons.map(\.description).joined(separator: "; "))
        }
        for image in removed {
            let snapshots = actions.compactMap { action -> String? in
                if case .deleteSnapshot(let id, let owner) = action, owner == image.id { return id }
                return nil
            }
            lines.append("remove \(image.id) \(image.name)" + (image.state == "available" ? "" : " (\(image.state))")
                         + (snapshots.isEmpty ? "" : " and snapshot\(snapshots.count == 1 ? "" : "s") \(snapshots.joined(separator: ", "))"))
        }
        return lines
    }

    public var snapshotCount: Int {
        actions.filter { if case .deleteSnapshot = $0 { return true } else { return false } }.count
    }
}
