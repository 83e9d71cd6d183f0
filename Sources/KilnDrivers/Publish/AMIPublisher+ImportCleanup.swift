import Foundation
import KilnAWS
import KilnCore

extension AMIPublisher {
    /// Undoes the import path in dependency order, best effort, in a detached task (a cancelled
    /// build still cleans up): abort the upload, cancel the import task (or, if it finished in the
    /// meantime, take its image and snapshot to remove), delete the object, deregister the images,
    /// delete the snapshot. Returns what it did, for the error.
    static func undoImport(_ created: ImportResources, configuration: AWSConfiguration, transport: any HTTPTransport,
                           build: String, events: any EventSink) async -> String {
        let (notes, found) = await Task.detached { () -> ([String], ImportResources) in
            let retry = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(500), maxDelay: .seconds(5),
                                    requestTimeout: .seconds(30), deadline: .seconds(60))
            let s3 = S3Client(configuration: configuration, transport: transport, retry: retry)
            let ec2 = EC2Client(configuration: configuration, transport: transport, retry: retry)
            var created = created
            var notes: [String] = []
            func attempt(_ action: String, done: String, _ body: () async throws -> Void) async {
                do {
                    try await body()
                    notes.append(done)
                    events.emit(.cleanup(build: build, action: action, error: nil))
                } catch {
                    notes.append("could NOT \(action) (\(error)); do it by hand")
                    events.emit(.cleanup(build: build, action: action, error: "\(error)"))
                }
            }
            let object = created.key.map { "s3://\(created.bucket)/\($0)" }
            if let uploadID = created.uploadID, let key = created.key {
                await attempt("abort the multipart upload to \(object!)", done: "aborted the multipart upload to \(object!)") {
                    try await s3.abortMultipartUpload(bucket: created.bucket, key: key, uploadID: uploadID)
                }
            }
            if let taskID = created.importTaskID, !created.importFinished {
                do {
                    try await ec2.cancelImportTask(id: taskID, reason: "Kiln build \(build) failed or was interrupted")
                    notes.append("cancelled import task \(taskID)")
                    events.emit(.cleanup(build: build, action: "cancel import task \(taskID)", error: nil))
                } catch {
                    // It may have finished between the last poll and now: then remove what it made.
                    let task = try? await ec2.describeImportImageTasks(ids: [taskID]).first
                    if let task, task.status == "completed" {
                        created.importedImageID = task.imageID
                        created.snapshotID = created.snapshotID ?? task.snapshotIDs.first
                        notes.append("import task \(taskID) had completed")
                    } else if let task, ["deleting", "deleted"].contains(task.status) {
                        notes.append("import task \(taskID) was already \(task.status)")
                    } else {
                        notes.append("could NOT cancel import task \(taskID) (\(error)); cancel it by hand "
                                     + "(aws ec2 cancel-import-task --import-task-id \(taskID))")
                        events.emit(.cleanup(build: build, action: "cancel import task \(taskID)", error: "\(error)"))
                    }
                }
            }
            if let key = created.key {
                await attempt("delete \(object!)", done: "deleted \(object!)") { try await s3.deleteObject(bucket: created.bucket, key: key) }
            }
            if let imported = created.importedImageID {
                await attempt("deregister image \(imported)", done: "deregistered image \(imported)") { try await ec2.deregisterImage(id: imported) }
            }
            return (notes, created)
        }.value
        // `found` may name a snapshot the task made after all (it completed while being cancelled).
        let rest = await Self.undo(CreatedResources(snapshotID: found.snapshotID, imageID: found.imageID),
                                   configuration: configuration, transport: transport, build: build, events: events)
        let all = notes + (found.snapshotID != nil || found.imageID != nil ? [rest] : [])
        return all.isEmpty ? "nothing was created in AWS" : all.joined(separator: "; ")
    }

    /// Like `failure`, with the import task's own outcome and import-specific hints.
    static func importFailure(_ error: any Error, stage: String, cleanup: String, credentials: AWSCredentials) -> KilnError {
        switch error {
        case let failed as EC2Client.ImportImageFailed:
            return KilnError(.publish, "AMI import failed: task \(failed.taskID) \(failed.status): \(failed.statusMessage) "
                             + "(while \(stage); cleanup: \(cleanup))",
                             hint: "the message is AWS's; see https://docs.aws.amazon.com/vm-import/latest/userguide/troubleshooting.html",
                             cause: error)
        case let late as EC2Client.ImportImageTimedOut:
            return KilnError(.publish, "AMI import timed out while \(stage) (last state: \(late.lastState)); cleanup: \(cleanup)",
                             hint: "imports often take 20 to 60 minutes: raise publish.ami.timeout", cause: error)
        default:
            var failure = Self.failure(error, stage: stage, cleanup: cleanup, credentials: credentials)
            if let aws = error as? AWSError, let hint = importHint(for: aws) { failure.hint = hint }
            return failure
        }
    }

    static let importPermissions = "the credentials need s3:ListBucket (HeadBucket), s3:PutObject, s3:AbortMultipartUpload "
        + "and s3:DeleteObject on the bucket, ec2:ImportImage, ec2:DescribeImportImageTasks, ec2:CancelImportTask, "
        + "ec2:RegisterImage, ec2:DescribeImages, ec2:DeregisterImage, ec2:CreateTags and ec2:DeleteSnapshot; "
        + "and the account needs the vmimport service role, allowed to read the bucket"

    static func importHint(for error: AWSError) -> String? {
        switch error.code {
        case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
            return importPermissions
        case "InvalidParameter" where error.message.localizedCaseInsensitiveContains("role"):
            return "create the vmimport service role and let it read the bucket: "
                + "https://docs.aws.amazon.com/vm-import/latest/userguide/required-permissions.html#vmimport-role"
        default:
            return nil
        }
    }
}
