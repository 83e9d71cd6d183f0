#if canImport(_CryptoExtras)
import _CryptoExtras
import Crypto
import NIOCore

/// One direction of SSH's AES-CTR (RFC 4344 §4): a single keystream that runs across
/// packets, its 128-bit big-endian counter starting at the key exchange's IV.
///
/// `AES._CTR` is stateless, so the counter lives here and advances by the blocks consumed.
/// SSH packets are whole blocks, so every call starts on a block boundary.
struct AESCounterKeystream {
    static let blockSize = 16

    private let key: SymmetricKey
    private var counterHigh: UInt64
    private var counterLow: UInt64

    init(key: SymmetricKey, initialCounter: [UInt8]) throws {
        guard initialCounter.count == Self.blockSize else {
            throw SSHTransportProtectionError.invalidKeyMaterial(
                "AES-CTR needs a \(Self.blockSize)-byte IV, got \(initialCounter.count) bytes")
        }
        self.key = key
        counterHigh = initialCounter[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        counterLow = initialCounter[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// XORs `count` bytes of `buffer` at `index` with the next `count` bytes of keystream.
    mutating func apply(to buffer: inout ByteBuffer, at index: Int, count: Int) throws {
        precondition(count % Self.blockSize == 0, "AES-CTR is applied to whole blocks only")
        guard count > 0 else { return }
        let input = buffer.getBytes(at: index, length: count)!
        let nonce = try AES._CTR.Nonce(nonceBytes: counterBlock)
        let output = try AES._CTR.encrypt(input, using: key, nonce: nonce)
        buffer.setBytes(output, at: index)
        advance(byBlocks: UInt64(count / Self.blockSize))
    }

    private var counterBlock: [UInt8] {
        var block = [UInt8]()
        block.reserveCapacity(Self.blockSize)
        withUnsafeBytes(of: counterHigh.bigEndian) { block.append(contentsOf: $0) }
        withUnsafeBytes(of: counterLow.bigEndian) { block.append(contentsOf: $0) }
        return block
    }

    private mutating func advance(byBlocks blocks: UInt64) {
        let (low, overflow) = counterLow.addingReportingOverflow(blocks)
        counterLow = low
        if overflow { counterHigh &+= 1 }
    }
}
#endif
