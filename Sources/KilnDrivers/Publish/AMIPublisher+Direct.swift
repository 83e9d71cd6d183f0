import Foundation
import KilnAWS
import KilnCore
import KilnTemplate

extension AMIPublisher {
    /// The EBS direct path: qcow2 -> sparse raw -> snapshot blocks -> RegisterImage -> tags.
    func publishDirect(_ request: PublishRequest) async throws -> PublishResult {
        let (disk, ami, build, scratch) = (request.disk, request.ami, request.build, request.scratch)
        let (configuration, transport, events) = (request.configuration, request.transport, request.events)
        let allTags = request.tags
        let aws = Clients(ebs: EBSClient(configuration: configuration, transport: transport, retry: retry),
                          ec2: EC2Client(configuration: configuration, transport: transport, retry: retry))

        let raw = "\(scratch)/ami-\(UUID().uuidString).raw"
        defer { try? FileManager.default.removeItem(atPath: raw) }
        try await convertToRaw(disk, raw)
        let blocks: SparseBlocks
        do {
            blocks = try SparseBlocks(path: raw, blockSize: EBSClient.blockSize)
        } catch {
            throw KilnError(.publish, "cannot read the raw disk \(raw): \(error)", cause: error)
        }
        let plan = try registrationPlan(blocks, ami: ami)

        var created = CreatedResources()
        var stage = "starting the snapshot"
        do {
            let snapshot = try await aws.ebs.startSnapshot(
                volumeSizeGiB: plan.volumeGiB, description: ami.description ?? "Kiln build \(build): \(ami.name)",
                tags: allTags, clientToken: UUID().uuidString, timeoutMinutes: 60)
            created.snapshotID = snapshot.id
            stage = "uploading the disk to snapshot \(snapshot.id)"
            let uploader = SnapshotUploader(ebs: aws.ebs, concurrency: ami.concurrency)
            let step = self.step, total = blocks.size
            let clock = ContinuousClock()
            let started = clock.now
            let statistics = try await uploader.upload(blocks, snapshotID: snapshot.id) { done in
                events.emit(.progress(build: build, step: step, done: done, total: total))
            }
            let uploadSeconds = Self.seconds(clock.now - started)
            stage = "completing snapshot \(snapshot.id)"
            try await aws.ebs.completeSnapshot(snapshotID: snapshot.id, changedBlocksCount: statistics.blocksSent)
            stage = "waiting for snapshot \(snapshot.id) to complete"
            try await waitForSnapshot(snapshot.id, aws.ec2, timeout: ami.timeout)

            stage = "registering the image"
            let request = RegisterImageRequest(
                name: ami.name, description: ami.description, architecture: ami.architecture.rawValue,
                bootMode: plan.bootMode.rawValue, rootDeviceName: ami.rootDeviceName, snapshotID: snapshot.id,
                volumeType: ami.volumeType.rawValue, volumeSizeGiB: plan.volumeGiB, enaSupport: ami.enaSupport)
            let imageID = try await aws.ec2.registerImage(request)
            created.imageID = imageID
            stage = "waiting for image \(imageID) to become available"
            try await waitForImage(imageID, aws.ec2, timeout: ami.timeout)
            stage = "tagging image \(imageID) and snapshot \(snapshot.id)"
            try await aws.ec2.createTags(resources: [imageID, snapshot.id], tags: allTags)

            events.emit(.info(build: build, message: "AMI \(imageID) registered in \(configuration.region): "
                              + "\(statistics.blocksSent) blocks sent, \(statistics.zeroBlocksSkipped + statistics.holeBlocksSkipped) "
                              + "zero blocks skipped, uploaded in \(String(format: "%.2f", uploadSeconds)) s"))
            return PublishResult(region: configuration.region, imageID: imageID, snapshotID: snapshot.id, details: [
                "method": "direct",
                "bootMode": plan.bootMode.rawValue,
                "volumeSizeGiB": String(plan.volumeGiB),
                "blocksSent": String(statistics.blocksSent),
                "zeroBlocksSkipped": String(statistics.zeroBlocksSkipped + statistics.holeBlocksSkipped),
            ])
        } catch {
            let cleanup = await Self.undo(created, configuration: configuration, transport: transport,
                                          build: build, events: events)
            throw Self.failure(error, stage: stage, cleanup: cleanup, credentials: configuration.credentials)
        }
    }
}
