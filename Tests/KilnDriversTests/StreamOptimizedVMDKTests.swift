import Foundation
import Testing
@testable import KilnDrivers

/// The streamOptimized VMDK layout (pure, golden-tested) and the writer on raw files, read back
/// by `StreamOptimizedVMDKReader` (no qemu-img here; `StreamOptimizedVMDKIntegrationTests` has it).
/// `KILN_UPDATE_GOLDEN=1 swift test --filter StreamOptimizedVMDKTests` rewrites the golden files.
@Suite struct StreamOptimizedVMDKTests {
    // MARK: pure layout

    @Test func headerFieldsSitWhereTheSpecPutsThem() {
        let header = StreamOptimizedVMDK.Header(capacitySectors: 0x0102_0304_0506).encoded()
        #expect(header.count == 512)
        #expect(Array(header[0..<4]) == Array("KDMV".utf8))
        func u32(_ at: Int) -> UInt32 { header[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        func u64(_ at: Int) -> UInt64 { header[at..<at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        #expect(u32(4) == 3)                      // version
        #expect(u32(8) == 0x0003_0001)            // newline test, compressed, markers
        #expect(u64(12) == 0x0102_0304_0506)      // capacity
        #expect(u64(20) == 128)                   // grain size
        #expect(u64(28) == 1 && u64(36) == 20)    // descriptor offset and size
        #expect(u32(44) == 512)                   // grain table entries
        #expect(u64(48) == 0)                     // no redundant directory
        #expect(u64(56) == .max)                  // GD_AT_END
        #expect(u64(64) == 128)                   // overhead
        #expect(Array(header[72..<79]) == [0, 0x0a, 0x20, 0x0d, 0x0a, 1, 0])
        #expect(header[79...].allSatisfy { $0 == 0 })

        let footer = StreamOptimizedVMDK.Header(capacitySectors: 8, grainDirectorySector: 0x1234).encoded()
        #expect(Array(footer[56..<64]) == [0x34, 0x12, 0, 0, 0, 0, 0, 0])
    }

    @Test func markersAndTables() {
        let marker = StreamOptimizedVMDK.marker(.grainTable, sectors: 4)
        #expect(marker.count == 512)
        #expect(Array(marker[0..<16]) == [4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0])
        #expect(StreamOptimizedVMDK.marker(.endOfStream, sectors: 0) == [UInt8](repeating: 0, count: 512))
        #expect(StreamOptimizedVMDK.grainMarker(lba: 0x80, compressedSize: 0x1_0203)
                == [0x80, 0, 0, 0, 0, 0, 0, 0, 0x03, 0x02, 0x01, 0])
        var entries = [UInt32](repeating: 0, count: 512)
        entries[511] = 0xdead_beef
        let table = StreamOptimizedVMDK.grainTable(entries)
        #expect(table.count == 2048 && Array(table[2044...]) == [0xef, 0xbe, 0xad, 0xde])
        #expect(StreamOptimizedVMDK.grainDirectory([1, 2, 3]).count == 512)
        #expect(StreamOptimizedVMDK.grainDirectory(Array(repeating: 7, count: 129)).count == 1024)
        #expect(StreamOptimizedVMDK.grainCount(capacitySectors: 129) == 2)
        #expect(StreamOptimizedVMDK.grainTableCount(capacitySectors: 512 * 128) == 1)
        #expect(StreamOptimizedVMDK.grainTableCount(capacitySectors: 512 * 128 + 1) == 2)
    }

    @Test func geometryFollowsVMwareRules() {
        #expect(VMDKGeometry(capacitySectors: 2_000_000, adapter: .ide) == VMDKGeometry(cylinders: 1984, heads: 16, sectors: 63))
        #expect(VMDKGeometry(capacitySectors: 134_217_728, adapter: .ide).cylinders == 16383)
        #expect(VMDKGeometry(capacitySectors: 134_217_728, adapter: .lsilogic) == VMDKGeometry(cylinders: 8354, heads: 255, sectors: 63))
        #expect(VMDKGeometry(capacitySectors: 100, adapter: .buslogic).cylinders == 0)
    }

    @Test func descriptorKeepsItsNameQuotableAndFitsItsRoom() throws {
        let odd = StreamOptimizedVMDKDescriptor(capacitySectors: 8, adapter: .ide, cid: 1, fileName: "a\"b\nc.vmdk")
        #expect(odd.render().contains(#"RW 8 SPARSE "a_b_c.vmdk""#))
        #expect(odd.render().contains("CID=00000001\n"))
        #expect(try odd.encoded().count == 20 * 512)
        let long = StreamOptimizedVMDKDescriptor(capacitySectors: 8, adapter: .ide, cid: 1, fileName: String(repeating: "x", count: 11000))
        #expect(throws: StreamOptimizedVMDKError.self) { try long.encoded() }
        for _ in 0..<100 {
            let cid = StreamOptimizedVMDKDescriptor.randomCID()
            #expect(cid != 0xffff_ffff && cid != 0xffff_fffe)
        }
    }

    static let tinyDescriptor = StreamOptimizedVMDKDescriptor(capacitySectors: 2055, adapter: .lsilogic, cid: 0x1234_abcd,
                                                              fileName: "tiny.vmdk")

    @Test func descriptorMatchesGolden() throws {
        try expectGolden("vmdk-stream-tiny.descriptor", Self.tinyDescriptor.render())
    }

    /// A tiny disk with no data: every metadata structure of the format, and nothing zlib made.
    @Test func emptyDiskFileMatchesGolden() throws {
        try withScratch { directory in
            let raw = try makeRaw(in: directory, size: 2055 * 512, writes: [])
            let vmdk = directory + "/tiny.vmdk"
            let statistics = try StreamOptimizedVMDKWriter.write(
                raw: raw, to: vmdk, options: .init(adapter: .lsilogic, fileName: "tiny.vmdk", cid: 0x1234_abcd))
            #expect(statistics == .init(grainsWritten: 0, zeroGrainsSkipped: 0, holeGrainsSkipped: 17, grainTablesWritten: 0))
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: vmdk)))
            #expect(bytes.count == (128 + 5) * 512)
            try expectGolden("vmdk-stream-tiny-empty.hex", hexDump(bytes))
            let reader = try StreamOptimizedVMDKReader(path: vmdk)
            #expect(reader.descriptor == Self.tinyDescriptor.render())
            #expect(try reader.contents() == [UInt8](repeating: 0, count: 2055 * 512))
        }
    }

    // MARK: the writer on raw files

    @Test(arguments: [1, 2, 4])
    func writesEveryNonZeroGrainAndReadsBackTheSameBytes(workers: Int) throws {
        try withScratch { directory in
            // 70 MiB + 7 sectors: three grain tables, the middle one empty; a last partial grain;
            // a zero grain written as data; random and patterned grains.
            let size = 70 * 1024 * 1024 + 7 * 512
            var random = SystemRandomNumberGenerator()
            let noise = (0..<(3 * 65536 + 1000)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let raw = try makeRaw(in: directory, size: size, writes: [
                (0, [UInt8](repeating: 0x5a, count: 4096)),
                (65536 * 3 + 100, noise),
                (65536 * 10, [UInt8](repeating: 0, count: 65536)),
                (65536 * 1030, [UInt8](repeating: 0xa5, count: 70000)),
                (size - 512, [UInt8](repeating: 0x11, count: 512)),
            ])
            let vmdk = directory + "/disk.vmdk"
            let log = ProgressLog()
            let statistics = try StreamOptimizedVMDKWriter.write(
                raw: raw, to: vmdk, options: .init(fileName: "disk.vmdk", workers: workers, window: 3),
                progress: { log.record($0) })
            #expect(statistics.grainsWritten == 1 + 4 + 2 + 1)
            #expect(statistics.zeroGrainsSkipped >= 1)   // all of them, where the filesystem cannot tell holes
            #expect(statistics.grainsWritten + statistics.zeroGrainsSkipped + statistics.holeGrainsSkipped == 1121)
            #expect(statistics.grainTablesWritten == 2)
            #expect(log.all.last == 1 && log.all == log.all.sorted())
            let reader = try StreamOptimizedVMDKReader(path: vmdk)
            #expect(reader.capacitySectors == UInt64(size / 512))
            #expect(reader.grainTables == 2)
            #expect(reader.descriptor.contains("RW \(size / 512) SPARSE \"disk.vmdk\""))
            let original = Array(try Data(contentsOf: URL(fileURLWithPath: raw)))
            #expect(try reader.contents() == original)
        }
    }

    @Test func cancellationStopsAndRemovesTheOutput() throws {
        try withScratch { directory in
            let raw = try makeRaw(in: directory, size: 8 << 20, writes: [(0, [UInt8](repeating: 1, count: 8 << 20))])
            let vmdk = directory + "/disk.vmdk"
            let calls = Counter()
            #expect(throws: CancellationError.self) {
                try StreamOptimizedVMDKWriter.write(raw: raw, to: vmdk, options: .init(fileName: "disk.vmdk", workers: 2),
                                                    isCancelled: { calls.increment() > 10 })
            }
            #expect(!FileManager.default.fileExists(atPath: vmdk))
        }
    }

    @Test func refusesARawFileThatIsNotWholeSectors() throws {
        try withScratch { directory in
            let raw = try makeRaw(in: directory, size: 1000, writes: [])
            #expect(throws: StreamOptimizedVMDKError.self) {
                try StreamOptimizedVMDKWriter.write(raw: raw, to: directory + "/x.vmdk", options: .init(fileName: "x.vmdk"))
            }
            #expect(!FileManager.default.fileExists(atPath: directory + "/x.vmdk"))
        }
    }

    @Test func finalNameDropsThePartialSuffix() {
        #expect(StreamOptimizedVMDKConversion.finalName(of: "/o/.out.kiln-1/web.vmdk.partial") == "web.vmdk")
        #expect(StreamOptimizedVMDKConversion.finalName(of: "/s/web-disk1.vmdk") == "web-disk1.vmdk")
        #expect(QemuImgArguments.convertToRaw(source: "/w/d.qcow2", destination: "/w/d.raw")
                == ["convert", "-p", "-f", "qcow2", "-O", "raw", "-m", "8", "-W", "/w/d.qcow2", "/w/d.raw"])
    }

    @Test func grainRunsNumberTheGrainsInOrder() {
        let runs = GrainRuns([0..<3, 10..<11, 20..<25])
        #expect(runs.count == 9)
        #expect((0..<9).map { runs.grain(at: $0) } == [0, 1, 2, 10, 20, 21, 22, 23, 24])
        #expect(GrainRuns([]).count == 0)
    }

    // MARK: the ordered parallel map under the writer

    @Test(arguments: [1, 3, 8])
    func orderedMapKeepsOrderAndBoundsTheWindow(workers: Int) throws {
        let ahead = Counter()
        var seen: [Int] = []
        try OrderedParallelMap.run(count: 200, workers: workers, window: 5, makeTransform: {
            { item in
                _ = ahead.increment()
                usleep(UInt32.random(in: 0...300))
                return item * 2
            }
        }, consume: { item, value in
            _ = ahead.decrement()
            #expect(value == item * 2)
            seen.append(item)
        })
        #expect(seen == Array(0..<200))
        // Started but not consumed: the window, plus the one being handed over.
        #expect(ahead.highest <= 5 + 1)
    }

    @Test func orderedMapStopsAtTheFirstError() {
        struct Boom: Error {}
        var consumed = 0
        #expect(throws: Boom.self) {
            try OrderedParallelMap.run(count: 1000, workers: 3, window: 4, makeTransform: {
                { item in
                    if item == 50 { throw Boom() }
                    return item
                }
            }, consume: { _, _ in consumed += 1 })
        }
        #expect(consumed <= 50)
        #expect(throws: Boom.self) {
            try OrderedParallelMap.run(count: 10, workers: 2, window: 4, makeTransform: { { $0 } },
                                       consume: { item, _ in if item == 3 { throw Boom() } })
        }
    }

    // MARK: helpers

    private func withScratch(_ body: (String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-vmdk-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    /// A sparse raw file of `size` bytes with `writes` at their offsets.
    private func makeRaw(in directory: String, size: Int, writes: [(Int, [UInt8])]) throws -> String {
        let path = directory + "/disk.raw"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: UInt64(size))
        for (offset, bytes) in writes {
            try handle.seek(toOffset: UInt64(offset))
            try handle.write(contentsOf: Data(bytes))
        }
        return path
    }

    private func expectGolden(_ name: String, _ rendered: String) throws {
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/" + name)
        if ProcessInfo.processInfo.environment["KILN_UPDATE_GOLDEN"] == "1" {
            try rendered.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(rendered == expected, "differs from \(golden.path); KILN_UPDATE_GOLDEN=1 rewrites it")
    }

    /// Offset, hex and printable bytes of every 16-byte row that is not all zeros.
    private func hexDump(_ bytes: [UInt8]) -> String {
        var lines: [String] = []
        for row in stride(from: 0, to: bytes.count, by: 16) {
            let slice = bytes[row..<min(row + 16, bytes.count)]
            if slice.allSatisfy({ $0 == 0 }) { continue }
            let hex = slice.map { String(format: "%02x", $0) }.joined(separator: " ")
            let text = String(slice.map { (0x20..<0x7f).contains($0) ? Character(UnicodeScalar($0)) : "." })
            lines.append(String(format: "%08x  ", row) + hex + "  |" + text + "|")
        }
        lines.append(String(format: "%08x  (end; rows of zeros left out)", bytes.count))
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A counter shared across threads, with the highest value it reached.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    private var peak = 0
    func increment() -> Int {
        lock.withLock {
            value += 1
            peak = max(peak, value)
            return value
        }
    }
    func decrement() -> Int { lock.withLock { value -= 1; return value } }
    var highest: Int { lock.withLock { peak } }
}
