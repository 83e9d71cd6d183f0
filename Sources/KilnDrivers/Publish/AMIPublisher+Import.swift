import Foundation
import KilnAWS
import KilnCore
import KilnTemplate

extension AMIPublisher {
    /// The classic path: check the bucket, convert (vmdk streamOptimized by default), multipart
    /// upload to S3, ImportImage, then register the imported snapshot under the template's name
    /// and settings (ImportImage cannot name an image) and drop AWS's `import-ami-...` image.
    /// The S3 object is deleted once imported; on failure or cancellation the upload is aborted,
    /// the import task cancelled and whatever was registered removed.
    func publishByImport(_ request: PublishRequest) async throws -> PublishResult {
        let (disk, ami, build, scratch) = (request.disk, request.ami, request.build, request.scratch)
        let (configuration, transport, events) = (request.configuration, request.transport, request.events)
        guard let bucket = ami.bucket else {
            throw KilnError(.publish, "method 'import' needs publish.ami.bucket, the S3 bucket to upload the image to")
        }
        let s3 = S3Client(configuration: configuration, transport: transport, retry: retry)
        let ec2 = EC2Client(configuration: configuration, transport: transport, retry: retry)

        try await checkBucket(bucket, s3, region: configuration.region)
        let plan = try await importPlan(disk, ami: ami, scratch: scratch)

        let format = ami.importFormat
        let file = "\(scratch)/ami-\(UUID().uuidString).\(format.rawValue)"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await convertForImport(disk, file, format: format)
        let reader: FileReader
        let parts: S3PartPlan
        do {
            reader = try FileReader(path: file)
            parts = try S3PartPlan(fileSize: reader.size)
        } catch {
            throw KilnError(.publish, "cannot read the converted disk \(file): \(error)", cause: error)
        }

        let key = Self.importKey(build: build, format: format)
        var created = ImportResources(bucket: bucket)
        var stage = "starting the upload to s3://\(bucket)/\(key)"
        do {
            created.key = key
            let uploadID = try await s3.createMultipartUpload(bucket: bucket, key: key)
            created.uploadID = uploadID
            stage = "uploading \(parts.partCount) part(s) to s3://\(bucket)/\(key)"
            let clock = ContinuousClock()
            let started = clock.now
            let completed = try await s3.uploadParts(of: reader, plan: parts, bucket: bucket, key: key, uploadID: uploadID,
                                                     concurrency: ami.concurrency,
                                                     progress: progressReporter(total: reader.size, build: build, events: events))
            stage = "completing the upload to s3://\(bucket)/\(key)"
            try await s3.completeMultipartUpload(bucket: bucket, key: key, uploadID: uploadID, parts: completed)
            created.uploadID = nil
            let seconds = Self.seconds(clock.now - started)
            events.emit(.info(build: build, message: "uploaded \(reader.size) bytes in \(parts.partCount) part(s) "
                              + "to s3://\(bucket)/\(key) in \(String(format: "%.2f", seconds)) s"))

            stage = "starting the import of s3://\(bucket)/\(key)"
            let taskID = try await ec2.importImage(
                bucket: bucket, key: key, format: format.rawValue, architecture: ami.architecture.rawValue,
                bootMode: plan.bootMode.rawValue, description: ami.description ?? "Kiln build \(build): \(ami.name)",
                clientToken: UUID().uuidString)
            created.importTaskID = taskID
            stage = "importing the image (task \(taskID))"
            let task = try await ec2.waitForImportImageTask(id: taskID, interval: pollInterval, timeout: ami.timeout,
                                                            progress: importProgressReporter(build: build, events: events))
            created.importFinished = true
            created.importedImageID = task.imageID
            guard let snapshotID = task.snapshotIDs.first else {
                throw EC2Client.ImportImageFailed(taskID: taskID, status: task.status,
                                                  statusMessage: "completed without a snapshot")
            }
            created.snapshotID = snapshotID

            // The object has served its purpose; failing to delete it is worth a warning, not the image.
            do {
                try await s3.deleteObject(bucket: bucket, key: key)
                created.key = nil
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                events.emit(.warning(build: build, message: "could not delete s3://\(bucket)/\(key) (\(error)); delete it by hand"))
                created.key = nil
            }

            stage = "registering image '\(ami.name)' from snapshot \(snapshotID)"
            let imageID = try await ec2.registerImage(RegisterImageRequest(
                name: ami.name, description: ami.description, architecture: ami.architecture.rawValue,
                bootMode: plan.bootMode.rawValue, rootDeviceName: ami.rootDeviceName, snapshotID: snapshotID,
                volumeType: ami.volumeType.rawValue, volumeSizeGiB: plan.volumeGiB, enaSupport: ami.enaSupport))
            created.imageID = imageID
            stage = "waiting for image \(imageID) to become available"
            try await waitForImage(imageID, ec2, timeout: ami.timeout)
            if let imported = task.imageID {
                do {
                    try await ec2.deregisterImage(id: imported)
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    events.emit(.warning(build: build, message: "could not deregister ImportImage's own image \(imported) "
                                         + "(\(error)); deregister it by hand (its snapshot belongs to \(imageID) now)"))
                }
                created.importedImageID = nil
            }
            stage = "tagging image \(imageID) and snapshot \(snapshotID)"
            try await ec2.createTags(resources: [imageID, snapshotID], tags: request.tags)

            events.emit(.info(build: build, message: "AMI \(imageID) registered in \(configuration.region) "
                              + "from import task \(taskID)"))
            return PublishResult(region: configuration.region, imageID: imageID, snapshotID: snapshotID, details: [
                "method": "import",
                "importTaskID": taskID,
                "importFormat": format.rawValue,
                "bootMode": plan.bootMode.rawValue,
                "volumeSizeGiB": String(plan.volumeGiB),
                "uploadedBytes": String(reader.size),
                "uploadParts": String(parts.partCount),
            ])
        } catch {
            if error is EC2Client.ImportImageFailed { created.importFinished = true }
            let cleanup = await Self.undoImport(created, configuration: configuration, transport: transport,
                                                build: build, events: events)
            throw Self.importFailure(error, stage: stage, cleanup: cleanup, credentials: configuration.credentials)
        }
    }

    /// What the import path has made so far, for the undo.
    struct ImportResources: Sendable {
        var bucket: String
        /// The object (or the upload's target), until it is deleted.
        var key: String?
        /// A multipart upload neither completed nor aborted.
        var uploadID: String?
        var importTaskID: String?
        /// The task completed or failed on AWS's side: nothing left to cancel.
        var importFinished = false
        /// AWS's `import-ami-...` image, until it is deregistered.
        var importedImageID: String?
        var snapshotID: String?
        /// The image registered under the template's name.
        var imageID: String?
    }

    /// `kiln-import/<build>-<uuid>.<format>`: never an existing object.
    static func importKey(build: String, format: AMIImportFormat) -> String {
        "kiln-import/\(build)-\(UUID().uuidString.lowercased()).\(format.rawValue)"
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// The offline checks before anything is uploaded: a partition table and boot code matching
    /// the boot mode (read from the first MiB of the disk), and a volume large enough.
    func importPlan(_ disk: String, ami: AMISpec, scratch: String) async throws -> Plan {
        let head = "\(scratch)/head-\(UUID().uuidString).raw"
        defer { try? FileManager.default.removeItem(atPath: head) }
        let info: DiskInfo
        do {
            info = try await QemuImg.info(disk)
            try await Subprocess.run("qemu-img", Self.headArguments(disk: disk, format: info.format, destination: head))
        } catch {
            throw KilnError.wrap(error, as: .publish, "cannot read the start of \(disk)")
        }
        let bytes = (try? Data(contentsOf: URL(fileURLWithPath: head))) ?? Data()
        return try registrationPlan(diskSize: info.virtualSize, ami: ami) { offset, count in
            guard offset < UInt64(bytes.count) else { return [] }
            let start = Int(offset)
            return Array(bytes[start..<min(bytes.count, start + count)])
        }
    }

    /// `qemu-img dd` of the first MiB (MBR, GPT header and the usual 128 entries) into a raw file.
    static func headArguments(disk: String, format: String, destination: String) -> [String] {
        ["dd", "-f", format, "-O", "raw", "bs=1M", "count=1", "if=\(disk)", "of=\(destination)"]
    }

    /// The qemu-img conversion to what ImportImage reads. streamOptimized VMDK is compressed and
    /// must be written in order; raw and VHD get parallel out-of-order writes.
    static func importConversionArguments(disk: String, sourceFormat: String, destination: String,
                                          format: AMIImportFormat) -> [String] {
        var args = ["convert", "-f", sourceFormat]
        switch format {
        case .vmdk: args += ["-O", "vmdk", "-o", "subformat=streamOptimized"]
        case .raw: args += ["-O", "raw", "-m", "8", "-W"]
        case .vhd: args += ["-O", "vpc", "-o", "subformat=dynamic,force_size=on", "-m", "8", "-W"]
        }
        return args + [disk, destination]
    }

    func convertForImport(_ disk: String, _ destination: String, format: AMIImportFormat) async throws {
        do {
            let info = try await QemuImg.info(disk)
            try await Subprocess.run("qemu-img", Self.importConversionArguments(
                disk: disk, sourceFormat: info.format, destination: destination, format: format))
        } catch {
            throw KilnError.wrap(error, as: .publish, "cannot convert \(disk) to \(format.rawValue) for upload")
        }
    }

    /// HeadBucket before any conversion or upload: a missing, foreign or forbidden bucket fails
    /// the build with nothing created.
    func checkBucket(_ bucket: String, _ s3: S3Client, region: String) async throws {
        let status: S3Client.BucketStatus
        do {
            status = try await s3.bucketStatus(bucket)
        } catch is CancellationError {
            throw KilnError(.cancelled, "interrupted while checking S3 bucket '\(bucket)'; nothing was uploaded")
        } catch {
            throw KilnError(.publish, "cannot check S3 bucket '\(bucket)' in \(region): \(error); nothing was uploaded",
                            hint: (error as? AWSError).flatMap {
                                Self.importHint(for: $0) ?? Self.hint(for: $0, credentials: s3.client.configuration.credentials)
                            }, cause: error)
        }
        switch status {
        case .reachable:
            return
        case .missing:
            throw KilnError(.publish, "S3 bucket '\(bucket)' does not exist in \(region); nothing was uploaded",
                            hint: "create it first (aws s3 mb s3://\(bucket) --region \(region)), or fix publish.ami.bucket")
        case .forbidden:
            throw KilnError(.publish, "access to S3 bucket '\(bucket)' in \(region) is denied; nothing was uploaded",
                            hint: Self.importPermissions)
        case .otherRegion(let other):
            throw KilnError(.publish, "S3 bucket '\(bucket)' is in \(other ?? "another region"), not \(region); "
                            + "nothing was uploaded",
                            hint: "ImportImage reads the bucket of the image's region: use a bucket in \(region), "
                                + "or set publish.ami.region to \(other ?? "the bucket's region")")
        }
    }

    /// Progress events for the upload, about every 1 %.
    func progressReporter(total: UInt64, build: String, events: any EventSink) -> @Sendable (UInt64) -> Void {
        let step = self.step
        let last = LockedValue<UInt64>(0)
        return { done in
            let report = last.update { reported in
                guard done == total || done >= reported + total / 100 else { return false }
                reported = done
                return true
            }
            if report { events.emit(.progress(build: build, step: step, done: done, total: total)) }
        }
    }

    /// An info event each time the import task's status or message changes.
    func importProgressReporter(build: String, events: any EventSink) -> @Sendable (EC2Client.ImportImageTask) -> Void {
        let last = LockedValue<String>("")
        return { task in
            let state = [task.status, task.statusMessage].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            let changed = last.update { previous in
                guard previous != state else { return false }
                previous = state
                return true
            }
            if changed {
                events.emit(.info(build: build, message: "import task \(task.id): \(state)"
                                  + (task.progress.map { " (\($0)%)" } ?? "")))
            }
        }
    }
}

/// A value behind a lock, for the progress closures.
final class LockedValue<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func update<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}
