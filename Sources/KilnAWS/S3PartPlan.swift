import Foundation

/// How a file is cut into multipart-upload parts: equal parts of at least `minimumPartSize`
/// (whole MiB), grown so that no more than 10,000 parts are needed; the last part is shorter.
public struct S3PartPlan: Sendable, Equatable {
    /// S3's limits: 10,000 parts of 5 MiB (except the last) to 5 GiB, objects up to 5 TiB.
    public static let maximumParts = 10_000
    public static let smallestPartS3Accepts: UInt64 = 5 << 20
    public static let largestPart: UInt64 = 5 << 30
    public static let largestObject: UInt64 = 5 << 40
    /// Kiln's floor: fewer requests than S3's 5 MiB minimum, and the part size boto3 uses.
    public static let defaultMinimumPartSize: UInt64 = 8 << 20

    public var fileSize: UInt64
    public var partSize: UInt64
    public var partCount: Int

    public struct TooLarge: Error, Sendable, Equatable, CustomStringConvertible {
        public var size: UInt64
        public var description: String { "\(size) bytes is more than the 5 TiB S3 holds in one object" }
    }

    public init(fileSize: UInt64, minimumPartSize: UInt64 = S3PartPlan.defaultMinimumPartSize) throws {
        guard fileSize <= Self.largestObject else { throw TooLarge(size: fileSize) }
        let mebibyte: UInt64 = 1 << 20
        let floor = max(Self.smallestPartS3Accepts, minimumPartSize)
        let needed = (fileSize + UInt64(Self.maximumParts) - 1) / UInt64(Self.maximumParts)
        let rounded = (max(floor, needed) + mebibyte - 1) / mebibyte * mebibyte
        self.fileSize = fileSize
        self.partSize = min(rounded, Self.largestPart)
        self.partCount = max(1, Int((fileSize + partSize - 1) / partSize))
    }

    /// Where part `number` (1-based, as S3 numbers them) lies in the file.
    public func range(ofPart number: Int) -> (offset: UInt64, length: Int) {
        precondition((1...partCount).contains(number), "part \(number) of \(partCount)")
        let offset = UInt64(number - 1) * partSize
        return (offset, Int(min(partSize, fileSize - offset)))
    }
}
