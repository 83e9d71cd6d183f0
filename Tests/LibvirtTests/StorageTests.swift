import Foundation
import KilnTestSupport
import Testing
@testable import Libvirt

/// Pools, volumes and streams against a second libvirtd on 127.0.0.1 over TCP, whose pool
/// directory only it can see (scripts/lib/remote-libvirtd.sh): every byte crosses the socket.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["KILN_INTEGRATION"] == "1"),
       .timeLimit(.minutes(5)))
struct StorageTests {
    static func poolXML(_ name: String) -> String {
        "<pool type='dir'><name>\(name)</name><target><path>/var/lib/libvirt/images/\(name)</path></target></pool>"
    }

    static let volumeXML = "<volume><name>data.img</name><capacity unit='bytes'>0</capacity><target><format type='raw'/></target></volume>"

    /// 3 MiB: a pattern in the first 100,000 bytes and at 2 MiB (4 KiB), holes elsewhere.
    static let layout = MemoryImage(length: 3 << 20, sections: [
        (0, (0..<100_000).map { UInt8($0 % 251) }),
        (2 << 20, [UInt8](repeating: 0x5A, count: 4096)),
    ])

    @Test func poolsVolumesAndSparseStreamsCrossTheSocket() async throws {
        try await RemoteLibvirtd.with { daemon in
            let connection = try await Connection.open(uri: daemon.uri)
            let name = "kiln-test-\(UUID().uuidString.prefix(8).lowercased())"
            let path = "/var/lib/libvirt/images/\(name)"

            let pool = try await connection.defineStoragePool(xml: Self.poolXML(name))
            #expect(pool.name == name)
            try await pool.build()
            try await pool.start()
            #expect(try await pool.isActive())
            #expect(try await pool.isPersistent())
            #expect(try await pool.xmlDescription().contains(path))
            #expect(try await connection.listAllStoragePools().map(\.name).contains(name))
            #expect(!FileManager.default.fileExists(atPath: path), "the pool's directory is private to the daemon")
            #expect(try await daemon.insideNamespace("test -d \(path) && echo present") == "present\n")

            let volume = try await pool.createVolume(xml: Self.volumeXML)
            #expect(try await volume.path() == path + "/data.img")
            let upload = try await Stream.open(on: connection)
            try await volume.upload(to: upload, flags: .sparse)
            try await upload.sparseSendAll(from: MemorySource(Self.layout))
            try await upload.finish()
            #expect(try await volume.info(physical: true).allocation == 3 << 20)
            // The holes arrived as holes: the file there uses far less than its length.
            let blocks = try await daemon.insideNamespace("stat -c %b \(path)/data.img")
            #expect((Int(blocks.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .max) * 512 < 1 << 20, "\(blocks)")

            let download = try await Stream.open(on: connection)
            try await volume.download(from: download, flags: .sparse)
            let sink = MemorySink()
            try await download.sparseReceiveAll(into: sink)
            try await download.finish()
            #expect(sink.bytes == Self.layout.flattened)
            #expect(sink.holeBytes > 2 << 20)

            // A range, without the sparse flag: plain receive calls.
            let part = try await Stream.open(on: connection)
            try await volume.download(from: part, offset: 2 << 20, length: 4096)
            var received: [UInt8] = []
            while case let chunk = try await part.receive(), !chunk.isEmpty { received += chunk }
            try await part.finish()
            #expect(received == [UInt8](repeating: 0x5A, count: 4096))

            // Files made behind libvirt's back are volumes after a refresh.
            _ = try await daemon.insideNamespace("echo hello > \(path)/extra.txt")
            try await pool.refresh()
            #expect(try await pool.listAllVolumes().map(\.name).sorted() == ["data.img", "extra.txt"])
            let missing = await #expect(throws: LibvirtError.self) { _ = try await pool.lookupVolume(named: "nope") }
            #expect(missing?.isNoStorageVolume == true)

            for volume in try await pool.listAllVolumes() { try await volume.delete() }
            try await pool.destroy()
            try await pool.delete()
            try await pool.undefine()
            let gone = await #expect(throws: LibvirtError.self) { _ = try await connection.lookupStoragePool(named: name) }
            #expect(gone?.isNoStoragePool == true)
            #expect(try await daemon.insideNamespace("test -e \(path) || echo removed") == "removed\n")
        }
    }

    @Test func aFailingOrCancelledSourceEndsTheUpload() async throws {
        try await RemoteLibvirtd.with { daemon in
            let connection = try await Connection.open(uri: daemon.uri)
            let name = "kiln-test-\(UUID().uuidString.prefix(8).lowercased())"
            let pool = try await connection.createStoragePool(xml: Self.poolXML(name), flags: .build)
            #expect(try await !pool.isPersistent())
            let volume = try await pool.createVolume(xml: Self.volumeXML)

            let failing = try await Stream.open(on: connection)
            try await volume.upload(to: failing, flags: .sparse)
            await #expect(throws: SourceFailure.self) {
                try await failing.sparseSendAll(from: MemorySource(Self.layout, failAfterReads: 1))
            }

            let slow = try await Stream.open(on: connection)
            try await volume.upload(to: slow, flags: .sparse)
            let endless = MemorySource(MemoryImage(length: 1 << 40, sections: [(0, [UInt8](repeating: 1, count: 1 << 20))]),
                                       delayPerRead: 0.02, repeatData: true)
            let task = Task { try await slow.sparseSendAll(from: endless) }
            try await Task.sleep(for: .milliseconds(300))
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }

            // The connection is still fine for other calls.
            try await pool.refresh()
            try await volume.delete()
            try await pool.destroy()
            #expect(try await connection.listAllStoragePools().isEmpty)
        }
    }
}

/// A sparse image in memory: data sections at offsets, holes elsewhere.
struct MemoryImage: Sendable {
    var length: Int
    var sections: [(offset: Int, bytes: [UInt8])]

    var flattened: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: length)
        for section in sections { bytes.replaceSubrange(section.offset..<section.offset + section.bytes.count, with: section.bytes) }
        return bytes
    }
}

struct SourceFailure: Error {}

final class MemorySource: StreamSource, @unchecked Sendable {
    let image: MemoryImage
    private var position = 0
    private var reads = 0
    private let failAfterReads: Int?
    private let delayPerRead: Double
    /// The first section's data again and again (a source that never ends).
    private let repeatData: Bool

    init(_ image: MemoryImage, failAfterReads: Int? = nil, delayPerRead: Double = 0, repeatData: Bool = false) {
        self.image = image
        self.failAfterReads = failAfterReads
        self.delayPerRead = delayPerRead
        self.repeatData = repeatData
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        reads += 1
        if let failAfterReads, reads > failAfterReads { throw SourceFailure() }
        if delayPerRead > 0 { usleep(UInt32(delayPerRead * 1_000_000)) }
        if repeatData {
            buffer.initializeMemory(as: UInt8.self, repeating: 1)
            position += buffer.count
            return buffer.count
        }
        guard let section = image.sections.first(where: { $0.offset <= position && position < $0.offset + $0.bytes.count }) else { return 0 }
        let count = min(buffer.count, section.offset + section.bytes.count - position)
        let start = position - section.offset
        section.bytes.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<start + count]))
        }
        position += count
        return count
    }

    func section() throws -> (inData: Bool, length: Int64) {
        if repeatData { return (true, Int64(image.length - position)) }
        if let section = image.sections.first(where: { $0.offset <= position && position < $0.offset + $0.bytes.count }) {
            return (true, Int64(section.offset + section.bytes.count - position))
        }
        let next = image.sections.map(\.offset).filter { $0 > position }.min() ?? image.length
        return (false, Int64(next - position))
    }

    func skip(_ length: Int64) throws { position += Int(length) }
}

final class MemorySink: StreamSink, @unchecked Sendable {
    private(set) var bytes: [UInt8] = []
    private(set) var holeBytes = 0

    func write(_ data: UnsafeRawBufferPointer) throws -> Int {
        bytes += data
        return data.count
    }

    func hole(_ length: Int64) throws {
        bytes += [UInt8](repeating: 0, count: Int(length))
        holeBytes += Int(length)
    }
}
