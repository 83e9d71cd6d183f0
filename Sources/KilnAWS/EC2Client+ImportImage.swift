import Foundation

/// The classic path's second half: ImportImage from an object already in S3, and its task.
extension EC2Client {
    public struct ImportImageTask: Sendable, Equatable {
        public var id: String
        /// active | deleting | deleted | completed
        public var status: String
        public var statusMessage: String?
        public var progress: String?
        public var imageID: String?
        public var snapshotIDs: [String]
    }

    public struct ImportImageFailed: Error, Sendable, Equatable, CustomStringConvertible {
        public var taskID: String
        public var status: String
        public var statusMessage: String
        public var description: String { "import task \(taskID) \(status): \(statusMessage)" }

        public init(taskID: String, status: String, statusMessage: String) {
            self.taskID = taskID
            self.status = status
            self.statusMessage = statusMessage
        }
    }

    public struct ImportImageTimedOut: Error, Sendable, Equatable, CustomStringConvertible {
        public var taskID: String
        public var lastState: String
        public var description: String { "import task \(taskID) did not finish in time (last: \(lastState))" }
    }

    /// Starts importing `format` (raw | vmdk | vhd) from s3://bucket/key; returns the task id.
    public func importImage(bucket: String, key: String, format: String, architecture: String, bootMode: String,
                            description: String?, clientToken: String) async throws -> String {
        var parameters: [(String, String)] = [
            ("DiskContainer.1.Format", format),
            ("DiskContainer.1.UserBucket.S3Bucket", bucket),
            ("DiskContainer.1.UserBucket.S3Key", key),
            ("Architecture", architecture),
            ("BootMode", bootMode),
            ("Platform", "Linux"),
            ("ClientToken", clientToken),
        ]
        if let description { parameters.append(("Description", description)) }
        let root = try await call("ImportImage", parameters)
        guard let id = root.text("importTaskId") else {
            throw AWSError(code: "InvalidResponse", message: "ImportImage answered without an importTaskId", httpStatus: 200)
        }
        return id
    }

    /// CancelImportTask: AWS stops the task and removes what it made so far. Fails when the task
    /// has already finished (completed, or deleted after a failure).
    public func cancelImportTask(id: String, reason: String? = nil) async throws {
        var parameters = [("ImportTaskId", id)]
        if let reason { parameters.append(("CancelReason", reason)) }
        _ = try await call("CancelImportTask", parameters)
    }

    public func describeImportImageTasks(ids: [String]) async throws -> [ImportImageTask] {
        let root = try await call("DescribeImportImageTasks", Self.numbered("ImportTaskId", ids))
        return root.items("importImageTaskSet").compactMap { item in
            guard let id = item.text("importTaskId") else { return nil }
            return ImportImageTask(id: id, status: item.text("status") ?? "", statusMessage: item.text("statusMessage"),
                                   progress: item.text("progress"), imageID: item.text("imageId"),
                                   snapshotIDs: item.items("snapshotDetailSet").compactMap { $0.text("snapshotId") })
        }
    }

    /// Polls the task until it completes, and throws `ImportImageFailed` with AWS's message at the
    /// first poll that shows it failing (`deleting`/`deleted`), instead of waiting out `timeout`.
    public func waitForImportImageTask(id: String, interval: Duration, timeout: Duration,
                                       progress: @Sendable (ImportImageTask) -> Void = { _ in }) async throws -> ImportImageTask {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var last = "not yet visible"
        while true {
            if let task = try await describeImportImageTasks(ids: [id]).first {
                progress(task)
                switch task.status {
                case "completed":
                    guard task.imageID != nil else {
                        throw ImportImageFailed(taskID: id, status: task.status, statusMessage: "completed without an image id")
                    }
                    return task
                case "deleting", "deleted":
                    throw ImportImageFailed(taskID: id, status: task.status,
                                            statusMessage: task.statusMessage ?? "no status message")
                default:
                    last = [task.status, task.statusMessage, task.progress.map { "\($0)%" }].compactMap { $0 }
                        .joined(separator: " ")
                }
            }
            guard clock.now + interval < deadline else { throw ImportImageTimedOut(taskID: id, lastState: last) }
            try await Task.sleep(for: interval)
        }
    }
}
