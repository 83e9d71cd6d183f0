import Crypto
import Foundation
import KilnTemplate

/// An incremental SHA-256 or SHA-512, fed while a file streams by.
struct StreamingDigest: Sendable {
    private enum State: Sendable {
        case sha256(SHA256)
        case sha512(SHA512)
    }
    private var state: State
    let algorithm: ChecksumAlgorithm

    init(_ algorithm: ChecksumAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .sha256: state = .sha256(SHA256())
        case .sha512: state = .sha512(SHA512())
        }
    }

    mutating func update(_ data: Data) {
        switch state {
        case .sha256(var hasher):
            hasher.update(data: data)
            state = .sha256(hasher)
        case .sha512(var hasher):
            hasher.update(data: data)
            state = .sha512(hasher)
        }
    }

    func finalizeHex() -> String {
        switch state {
        case .sha256(let hasher): return Self.hex(hasher.finalize())
        case .sha512(let hasher): return Self.hex(hasher.finalize())
        }
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func hex(sha256Of text: String) -> String { hex(SHA256.hash(data: Data(text.utf8))) }
}
