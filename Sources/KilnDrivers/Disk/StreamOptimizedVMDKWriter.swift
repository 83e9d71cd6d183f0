import Foundation

/// Writes a streamOptimized VMDK from a raw disk image, deflating its 64 KiB grains on several
/// threads and writing them in order (the format is a stream: grains in LBA order, each grain
/// table after its grains, the directory and footer at the end).
///
/// Holes of the sparse raw file are never read (SEEK_DATA/SEEK_HOLE) and grains that read as
/// zeros are left out: an unallocated grain reads as zeros. The last grain of a disk whose size
/// is not a multiple of 64 KiB is padded with zeros, since VirtualBox inflates whole grains only.
enum StreamOptimizedVMDKWriter {
    struct Options: Sendable {
        var adapter: VMDKAdapterType = .ide
        /// The name the descriptor's extent line gives (the VMDK's own final name).
        var fileName: String
        var cid: UInt32 = StreamOptimizedVMDKDescriptor.randomCID()
        var workers: Int = ProcessInfo.processInfo.activeProcessorCount
        /// Grains compressed ahead of the one being written: bounds memory (about 2 x 64 KiB each).
        var window: Int = 64
    }

    struct Statistics: Sendable, Equatable {
        var grainsWritten = 0
        /// Grains inside data extents of the raw file that read as zeros.
        var zeroGrainsSkipped = 0
        /// Grains in holes of the raw file, never read.
        var holeGrainsSkipped = 0
        var grainTablesWritten = 0
    }

    private enum Grain {
        case zero
        /// Marker, compressed data and padding: a whole number of sectors.
        case record([UInt8])
    }

    /// Writes `destination` (created or truncated; removed again on failure or cancellation).
    @discardableResult
    static func write(raw: String, to destination: String, options: Options,
                      isCancelled: @escaping @Sendable () -> Bool = { false },
                      progress: (Double) -> Void = { _ in }) throws -> Statistics {
        let disk = try SparseBlocks(path: raw, blockSize: StreamOptimizedVMDK.grainSize)
        guard disk.size % UInt64(StreamOptimizedVMDK.sectorSize) == 0 else {
            throw StreamOptimizedVMDKError.sourceSizeNotSectors(disk.size)
        }
        let capacity = disk.size / UInt64(StreamOptimizedVMDK.sectorSize)
        let descriptor = StreamOptimizedVMDKDescriptor(capacitySectors: capacity, adapter: options.adapter,
                                                       cid: options.cid, fileName: options.fileName)
        let grains = GrainRuns(disk.dataBlockRanges())
        var statistics = Statistics(holeGrainsSkipped: disk.blockCount - grains.count)
        let file = try SectorFile(creating: destination)
        do {
            try file.append(StreamOptimizedVMDK.Header(capacitySectors: capacity).encoded())
            try file.append(descriptor.encoded())
            try file.padToSector(StreamOptimizedVMDK.overheadSectors)
            var tables = GrainTables(capacitySectors: capacity)
            var reported = -1
            try OrderedParallelMap.run(
                count: grains.count, workers: options.workers, window: options.window, isCancelled: isCancelled,
                makeTransform: {
                    let deflater = try GrainDeflater()
                    return { item in try compress(grain: grains.grain(at: item), of: disk, with: deflater) }
                },
                consume: { item, grain in
                    switch grain {
                    case .zero:
                        statistics.zeroGrainsSkipped += 1
                    case .record(let bytes):
                        let grain = grains.grain(at: item)
                        if let finished = tables.moving(to: grain) {
                            try writeGrainTable(finished, to: file, tables: &tables)
                            statistics.grainTablesWritten += 1
                        }
                        try tables.set(grain: grain, sector: file.sector)
                        try file.append(bytes)
                        statistics.grainsWritten += 1
                    }
                    let percent = (item + 1) * 100 / grains.count
                    if percent != reported {
                        reported = percent
                        progress(Double(item + 1) / Double(grains.count))
                    }
                })
            if isCancelled() { throw CancellationError() }
            if let last = tables.finish() {
                try writeGrainTable(last, to: file, tables: &tables)
                statistics.grainTablesWritten += 1
            }
            let directory = StreamOptimizedVMDK.grainDirectory(tables.directory)
            try file.append(StreamOptimizedVMDK.marker(.grainDirectory, sectors: UInt64(directory.count / StreamOptimizedVMDK.sectorSize)))
            let directorySector = file.sector
            try file.append(directory)
            try file.append(StreamOptimizedVMDK.marker(.footer, sectors: 1))
            try file.append(StreamOptimizedVMDK.Header(capacitySectors: capacity, grainDirectorySector: directorySector).encoded())
            try file.append(StreamOptimizedVMDK.marker(.endOfStream, sectors: 0))
            try file.finish()
        } catch {
            file.discard()
            throw error
        }
        progress(1)
        return statistics
    }

    private static func compress(grain: Int, of disk: SparseBlocks, with deflater: GrainDeflater) throws -> Grain {
        let data = try disk.read(block: grain)
        if SparseBlocks.isAllZero(data) { return .zero }
        let header = StreamOptimizedVMDK.grainMarkerSize, sector = StreamOptimizedVMDK.sectorSize
        var record = [UInt8](repeating: 0, count: roundUp(header + deflater.bound(data.count), to: sector))
        let size = try data.withUnsafeBytes { input in
            try record.withUnsafeMutableBytes { output in
                try deflater.compress(input, into: UnsafeMutableRawBufferPointer(rebasing: output[header...]))
            }
        }
        let lba = UInt64(grain) * StreamOptimizedVMDK.grainSectors
        record.replaceSubrange(0..<header, with: StreamOptimizedVMDK.grainMarker(lba: lba, compressedSize: UInt32(size)))
        record.removeLast(record.count - roundUp(header + size, to: sector))
        return .record(record)
    }

    private static func writeGrainTable(_ table: GrainTables.Finished, to file: SectorFile, tables: inout GrainTables) throws {
        try file.append(StreamOptimizedVMDK.marker(.grainTable, sectors: StreamOptimizedVMDK.grainTableSectors()))
        try tables.placed(table.index, at: file.sector)
        try file.append(StreamOptimizedVMDK.grainTable(table.entries))
    }

    private static func roundUp(_ value: Int, to multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }
}

/// The grains to read, as runs of consecutive indexes (a few per data extent of the raw file, so
/// memory does not grow with the disk), numbered 0..<count in order.
struct GrainRuns: Sendable {
    private let runs: [Range<Int>]
    /// The item number of each run's first grain.
    private let firstItems: [Int]
    let count: Int

    init(_ runs: [Range<Int>]) {
        self.runs = runs
        var firstItems: [Int] = [], total = 0
        for run in runs {
            firstItems.append(total)
            total += run.count
        }
        self.firstItems = firstItems
        count = total
    }

    func grain(at item: Int) -> Int {
        precondition(item >= 0 && item < count)
        var low = 0, high = runs.count - 1
        while low < high {                      // the last run whose first item is <= item
            let middle = (low + high + 1) / 2
            if firstItems[middle] <= item { low = middle } else { high = middle - 1 }
        }
        return runs[low].lowerBound + item - firstItems[low]
    }
}

/// The grain directory and the one grain table being filled (grains arrive in order, so a
/// table is complete as soon as a grain of a later table arrives). Empty tables are never
/// written: their directory entry stays 0, as VMware and VirtualBox do.
struct GrainTables {
    struct Finished {
        var index: Int
        var entries: [UInt32]
    }

    private(set) var directory: [UInt32]
    private var current: Finished?

    init(capacitySectors: UInt64) {
        directory = Array(repeating: 0, count: StreamOptimizedVMDK.grainTableCount(capacitySectors: capacitySectors))
    }

    /// The table to write before `grain`'s, if `grain` starts a new table.
    mutating func moving(to grain: Int) -> Finished? {
        let index = grain / StreamOptimizedVMDK.grainTableEntries
        if let table = current, table.index == index { return nil }
        let finished = current
        current = Finished(index: index, entries: Array(repeating: 0, count: StreamOptimizedVMDK.grainTableEntries))
        return finished
    }

    mutating func set(grain: Int, sector: UInt64) throws {
        guard sector <= UInt64(UInt32.max) else { throw StreamOptimizedVMDKError.tooLarge("the compressed disk") }
        current!.entries[grain % StreamOptimizedVMDK.grainTableEntries] = UInt32(sector)
    }

    mutating func placed(_ table: Int, at sector: UInt64) throws {
        guard sector <= UInt64(UInt32.max) else { throw StreamOptimizedVMDKError.tooLarge("the compressed disk") }
        directory[table] = UInt32(sector)
    }

    /// The last table, if any grain was written.
    mutating func finish() -> Finished? {
        defer { current = nil }
        return current
    }
}
