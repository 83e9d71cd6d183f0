import Foundation
import KilnAWS

/// Writes a raw disk into an EBS snapshot with PutSnapshotBlock, `concurrency` blocks in flight,
/// sending only blocks that hold non-zero bytes (a new snapshot reads as zeros elsewhere).
struct SnapshotUploader: Sendable {
    struct Statistics: Sendable, Equatable {
        var blocksSent = 0
        /// Blocks inside data extents that read as all zeros.
        var zeroBlocksSkipped = 0
        /// Blocks never read: holes of the sparse file.
        var holeBlocksSkipped = 0
    }

    var ebs: EBSClient
    var concurrency: Int

    /// `progress` receives the bytes of the disk dealt with so far (sent, or skipped as zero).
    func upload(_ disk: SparseBlocks, snapshotID: String,
                progress: @escaping @Sendable (UInt64) -> Void) async throws -> Statistics {
        let indexes = disk.dataBlockIndexes()
        var statistics = Statistics(holeBlocksSkipped: disk.blockCount - indexes.count)
        let blockSize = UInt64(disk.blockSize)
        var reported: UInt64 = 0
        func report(through index: Int) {
            let done = min(disk.size, UInt64(index + 1) * blockSize)
            if done >= reported + disk.size / 100 || done == disk.size {
                reported = done
                progress(done)
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for index in indexes {
                try Task.checkCancellation()
                let data = try disk.read(block: index)
                if SparseBlocks.isAllZero(data) {
                    statistics.zeroBlocksSkipped += 1
                    continue
                }
                if inFlight >= max(1, concurrency) {
                    try await group.next()
                    inFlight -= 1
                    report(through: index)
                }
                group.addTask { try await ebs.putSnapshotBlock(snapshotID: snapshotID, blockIndex: index, data: data) }
                inFlight += 1
                statistics.blocksSent += 1
            }
            try await group.waitForAll()
        }
        progress(disk.size)
        return statistics
    }
}
