import Foundation
import Testing
import KilnCore
import KilnTemplate
@testable import KilnAWS
@testable import KilnDrivers

@Suite struct AMIPublisherLayoutTests {
    func layout(_ bytes: [UInt8]) throws -> DiskLayout {
        try DiskLayout.inspect { offset, count in
            let start = Int(min(UInt64(bytes.count), offset))
            return Array(bytes[start..<min(bytes.count, start + count)])
        }
    }

    @Test func mbrWithBootCodeBootsLegacyBIOS() throws {
        let disk = AMITestDisks.mbrHeader()
        let found = try layout(disk)
        #expect(found == DiskLayout(scheme: .mbr, hasEFISystemPartition: false, hasMBRBootCode: true))
        #expect(try found.bootMode(requested: nil, architecture: .x86_64).get() == .legacyBIOS)
        #expect(throws: DiskLayout.BootProblem.self) { try found.bootMode(requested: .uefi, architecture: .x86_64).get() }
        #expect(throws: DiskLayout.BootProblem.self) { try found.bootMode(requested: nil, architecture: .arm64).get() }
    }

    @Test func gptWithEFISystemPartitionBootsUEFI() throws {
        var disk = AMITestDisks.mbrHeader(type: 0xEE, bootCode: false)
        disk += [UInt8](repeating: 0, count: 1536)
        let header = Array("EFI PART".utf8)
        disk.replaceSubrange(512..<520, with: header)
        disk[512 + 72] = 2          // entries at LBA 2
        disk[512 + 80] = 4          // 4 entries
        disk[512 + 84] = 128        // of 128 bytes
        disk.replaceSubrange(1024 + 128..<1024 + 144, with: DiskLayout.espTypeGUID)
        let found = try layout(disk)
        #expect(found == DiskLayout(scheme: .gpt, hasEFISystemPartition: true, hasMBRBootCode: false))
        #expect(try found.bootMode(requested: nil, architecture: .x86_64).get() == .uefi)
        #expect(throws: DiskLayout.BootProblem.self) { try found.bootMode(requested: .legacyBIOS, architecture: .x86_64).get() }
    }

    @Test func noPartitionTableIsRefused() throws {
        let found = try layout([UInt8](repeating: 0x11, count: 4096))
        #expect(found.scheme == .none)
        let problem = #expect(throws: DiskLayout.BootProblem.self) { try found.bootMode(requested: nil, architecture: .x86_64).get() }
        #expect(problem?.message.contains("no partition table") == true)
    }
}

@Suite struct AMIPublisherSparseBlockTests {
    @Test func holesAreJumpedAndZeroDataIsDetected() throws {
        let block = EBSClient.blockSize
        let path = NSTemporaryDirectory() + "kiln-sparse-\(UUID().uuidString).raw"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // 10 blocks plus a short tail: data in block 1, explicit zeros written in block 4, data at the tail.
        let size = 10 * block + 1000
        let fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0o600)
        #expect(fd >= 0)
        ftruncate(fd, off_t(size))
        func write(_ bytes: [UInt8], at offset: Int) {
            _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress!, bytes.count, off_t(offset)) }
        }
        write([UInt8](repeating: 0x5A, count: 4096), at: block + 8192)
        write([UInt8](repeating: 0, count: block), at: 4 * block)
        write([1, 2, 3], at: 10 * block + 10)
        close(fd)

        let disk = try SparseBlocks(path: path, blockSize: block)
        #expect(disk.blockCount == 11)
        let indexes = disk.dataBlockIndexes()
        #expect(indexes.contains(1) && indexes.contains(10))
        #expect(!indexes.contains(0) && !indexes.contains(7))
        #expect(SparseBlocks.isAllZero(try disk.read(block: 4)))
        #expect(!SparseBlocks.isAllZero(try disk.read(block: 1)))
        let tail = try disk.read(block: 10)
        #expect(tail.count == block)
        #expect(Array(tail.prefix(13)) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3])
        #expect(SparseBlocks.isAllZero(tail.suffix(block - 13)))
    }

    @Test func onlyNonZeroBlocksAreSent() async throws {
        let block = EBSClient.blockSize
        let path = NSTemporaryDirectory() + "kiln-upload-\(UUID().uuidString).raw"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var content = Data(count: 6 * block)           // written out: no holes at all
        content[2 * block + 5] = 9
        content[5 * block] = 1
        try content.write(to: URL(fileURLWithPath: path))
        let transport = AMICountingTransport()
        let ebs = EBSClient(configuration: AMITestDisks.offlineConfiguration, transport: transport, retry: .standard)
        let stats = try await SnapshotUploader(ebs: ebs, concurrency: 3)
            .upload(try SparseBlocks(path: path, blockSize: block), snapshotID: "snap-1") { _ in }
        #expect(stats.blocksSent == 2)
        #expect(stats.zeroBlocksSkipped + stats.holeBlocksSkipped == 4)
        #expect(transport.paths.sorted() == ["/snapshots/snap-1/blocks/2", "/snapshots/snap-1/blocks/5"])
    }
}

@Suite struct AMIPublisherConfigurationTests {
    @Test func missingCredentialsFailBeforeAnyWork() async throws {
        let transport = AMICountingTransport()
        let publisher = AMIPublisher(environment: AWSEnvironment(variables: ["AWS_REGION": "us-east-1"], home: "/nonexistent"),
                                     transport: transport)
        let error = await #expect(throws: KilnError.self) {
            _ = try await publisher.publish(disk: "/nonexistent.qcow2", ami: AMISpec(name: "x"), build: "b", tags: [:],
                                            scratch: NSTemporaryDirectory(), events: NullEventSink())
        }
        #expect(error?.code == .publish)
        #expect(error?.message.contains("no AWS credentials found") == true)
        #expect(transport.paths.isEmpty)
    }

    @Test func importChecksTheBucketBeforeTouchingTheDisk() async throws {
        let transport = AMIRecordingTransport { request in
            request.method == "HEAD" ? HTTPResponse(status: 404) : HTTPResponse(status: 500)
        }
        let publisher = AMIPublisher(environment: AWSEnvironment(variables: [
            "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        ], home: "/nonexistent"), transport: transport)
        let error = await #expect(throws: KilnError.self) {
            _ = try await publisher.publish(disk: "/nonexistent.qcow2", ami: AMISpec(region: "ap-south-1", name: "x", method: .import,
                                                                                     bucket: "my-images"),
                                            build: "b", tags: [:], scratch: NSTemporaryDirectory(), events: NullEventSink())
        }
        #expect(error?.message == "S3 bucket 'my-images' does not exist in ap-south-1; nothing was uploaded")
        #expect(transport.requests.map { "\($0.method) \($0.url.absoluteString)" } == ["HEAD http://127.0.0.1:9/my-images"])
    }

    @Test func importArgumentsAndKeys() {
        #expect(AMIPublisher.importConversionArguments(disk: "/w/disk.qcow2", sourceFormat: "qcow2", destination: "/s/a.vmdk",
                                                       format: .vmdk)
            == ["convert", "-f", "qcow2", "-O", "vmdk", "-o", "subformat=streamOptimized", "/w/disk.qcow2", "/s/a.vmdk"])
        #expect(AMIPublisher.importConversionArguments(disk: "/w/disk.qcow2", sourceFormat: "qcow2", destination: "/s/a.raw",
                                                       format: .raw)
            == ["convert", "-f", "qcow2", "-O", "raw", "-m", "8", "-W", "/w/disk.qcow2", "/s/a.raw"])
        #expect(AMIPublisher.importConversionArguments(disk: "/w/disk.qcow2", sourceFormat: "qcow2", destination: "/s/a.vhd",
                                                       format: .vhd)
            == ["convert", "-f", "qcow2", "-O", "vpc", "-o", "subformat=dynamic,force_size=on", "-m", "8", "-W",
                "/w/disk.qcow2", "/s/a.vhd"])
        #expect(AMIPublisher.headArguments(disk: "/w/d.qcow2", format: "qcow2", destination: "/s/h.raw")
            == ["dd", "-f", "qcow2", "-O", "raw", "bs=1M", "count=1", "if=/w/d.qcow2", "of=/s/h.raw"])
        let key = AMIPublisher.importKey(build: "web", format: .vhd)
        #expect(key.range(of: #"^kiln-import/web-[0-9a-f-]{36}\.vhd$"#, options: .regularExpression) != nil, "\(key)")
    }

    @Test func importFailuresSayWhatAWSSaid() {
        let failed = AMIPublisher.importFailure(
            EC2Client.ImportImageFailed(taskID: "import-ami-1", status: "deleted", statusMessage: "ClientError: No valid partitions."),
            stage: "importing the image (task import-ami-1)", cleanup: "deleted s3://b/k", credentials: AMIPublisherFailureTests.keys)
        #expect(failed.message == "AMI import failed: task import-ami-1 deleted: ClientError: No valid partitions. "
            + "(while importing the image (task import-ami-1); cleanup: deleted s3://b/k)")
        let role = AMIPublisher.importFailure(
            AWSError(code: "InvalidParameter", message: "The service role vmimport provided does not exist", httpStatus: 400),
            stage: "starting the import", cleanup: "deleted s3://b/k", credentials: AMIPublisherFailureTests.keys)
        #expect(role.hint?.contains("vmimport") == true)
        let denied = AMIPublisher.importFailure(AWSError(code: "AccessDenied", message: "Access Denied", httpStatus: 403),
                                                stage: "uploading", cleanup: "", credentials: AMIPublisherFailureTests.keys)
        #expect(denied.hint?.contains("s3:PutObject") == true)
    }

    static let template = """
        builds:
          - name: web
            publish:
              ami:
                name: web-1
                region: eu-west-1
                architecture: arm64
                boot_mode: uefi
                volume_type: gp2
                volume_size: 10
                root_device_name: /dev/sda1
                ena_support: false
                concurrency: 32
                description: the web tier
                timeout: 20m
                tags: { team: web }
        """

    @Test func templateKeysAreDecoded() throws {
        let options = LoadOptions(environment: [:], now: Date(), checkFiles: false, workingDirectory: "/tmp")
        let template = try TemplateLoader.load(text: Self.template, path: "/tmp/t.yaml", options: options)
        let ami = try #require(template.builds.first?.publish?.ami)
        #expect(ami.architecture == .arm64)
        #expect(ami.bootMode == .uefi)
        #expect(ami.volumeType == .gp2)
        #expect(ami.volumeSize == 10 << 30)
        #expect(ami.rootDeviceName == "/dev/sda1")
        #expect(ami.enaSupport == false)
        #expect(ami.concurrency == 32)
        #expect(ami.description == "the web tier")
        #expect(ami.timeout == .seconds(1200))
        #expect(ami.tags == ["team": "web"])
    }

    @Test func importFormatIsDecodedForImportOnly() throws {
        let options = LoadOptions(environment: [:], now: Date(), checkFiles: false, workingDirectory: "/tmp")
        func load(_ ami: String) throws -> AMISpec? {
            try TemplateLoader.load(text: "builds:\n  - name: web\n    publish: { ami: { name: n, \(ami) } }\n",
                                    path: "/tmp/t.yaml", options: options).builds.first?.publish?.ami
        }
        #expect(try load("method: import, bucket: b").map(\.importFormat) == .vmdk)
        #expect(try load("method: import, bucket: b, import_format: raw").map(\.importFormat) == .raw)
        #expect(try load("method: import, bucket: b, import_format: vhd").map(\.importFormat) == .vhd)
        #expect(throws: TemplateErrors.self) { try load("method: import, bucket: b, import_format: qcow2") }
        #expect(throws: TemplateErrors.self) { try load("import_format: raw") }
        #expect(throws: TemplateErrors.self) { try load("method: import") }
    }

    @Test func defaultsAndBadValues() throws {
        let options = LoadOptions(environment: [:], now: Date(), checkFiles: false, workingDirectory: "/tmp")
        let plain = try TemplateLoader.load(text: "builds:\n  - name: web\n    publish: { ami: { name: n } }\n",
                                            path: "/tmp/t.yaml", options: options)
        let ami = try #require(plain.builds.first?.publish?.ami)
        #expect(ami == AMISpec(name: "n", location: ami.location))
        for bad in ["boot_mode: bios", "concurrency: 0", "root_device_name: sda", "volume_type: sc1", "architecture: i386"] {
            let text = "builds:\n  - name: web\n    publish: { ami: { name: n, \(bad) } }\n"
            #expect(throws: TemplateErrors.self, "\(bad)") { try TemplateLoader.load(text: text, path: "/tmp/t.yaml", options: options) }
        }
    }
}

@Suite struct AMIPublisherFailureTests {
    static let keys = AWSCredentials(accessKeyID: "AKIAREALKEY123", secretAccessKey: "S3CR3T/VALUE", sessionToken: "T0KEN",
                                     source: "the environment")

    @Test func rejectedCredentialsGetAHintWithoutSecrets() {
        let error = AMIPublisher.failure(AWSError(code: "AuthFailure", message: "AWS was not able to validate the provided access credentials",
                                                  httpStatus: 401, requestID: "r-1"),
                                         stage: "starting the snapshot", cleanup: "nothing was created in AWS", credentials: Self.keys)
        #expect(error.code == .publish)
        #expect(error.message == "AMI publishing failed while starting the snapshot: AuthFailure: AWS was not able to validate "
            + "the provided access credentials (HTTP 401, request r-1); cleanup: nothing was created in AWS")
        let hint = error.hint ?? ""
        #expect(hint.contains("AKIA****"))
        for secret in ["AKIAREALKEY123", "S3CR3T/VALUE", "T0KEN"] {
            #expect(!error.description.contains(secret))
        }
    }

    @Test func cancellationKeepsItsCodeAndReportsCleanup() {
        let error = AMIPublisher.failure(CancellationError(), stage: "uploading", cleanup: "deleted snapshot snap-1",
                                         credentials: Self.keys)
        #expect(error.code == .cancelled)
        #expect(error.message == "interrupted while uploading; cleanup: deleted snapshot snap-1")
    }

    @Test func waiterFailsFastOnAFailedState() async throws {
        let waiter = ResourceWaiter(interval: .seconds(30), timeout: .seconds(600))
        let clock = ContinuousClock()
        let started = clock.now
        let failed = await #expect(throws: ResourceWaiter.Failed.self) {
            try await waiter.wait { .failed("snapshot snap-1 failed: bad block") }
        }
        #expect(failed?.message == "snapshot snap-1 failed: bad block")
        #expect(clock.now - started < .seconds(5))
    }

    @Test func waiterTimesOutWithTheLastState() async throws {
        let waiter = ResourceWaiter(interval: .milliseconds(20), timeout: .milliseconds(100))
        let late = await #expect(throws: ResourceWaiter.TimedOut.self) { try await waiter.wait { .pending("pending 40%") } }
        #expect(late?.lastState == "pending 40%")
    }
}
