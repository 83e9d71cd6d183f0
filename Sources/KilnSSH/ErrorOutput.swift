import Synchronization

/// Collects a command's stderr (bounded) for an error message.
final class ErrorOutput: Sendable {
    private static let limit = 64 * 1024
    private let bytes = Mutex<[UInt8]>([])

    func append(_ chunk: [UInt8]) {
        bytes.withLock { stored in
            stored += chunk.prefix(max(0, Self.limit - stored.count))
        }
    }

    var text: String {
        bytes.withLock { String(decoding: $0, as: UTF8.self) }
    }
}
