/// The SSH binary encoding (RFC 4251 §5) of the few types that key blobs and key files use.
struct SSHWireWriter {
    private(set) var bytes: [UInt8] = []

    mutating func writeUInt32(_ value: UInt32) {
        bytes += [UInt8(value >> 24 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    mutating func writeString(_ value: some Collection<UInt8>) {
        writeUInt32(UInt32(value.count))
        bytes += value
    }

    mutating func writeString(_ value: String) {
        writeString(Array(value.utf8))
    }

    mutating func writeRaw(_ value: some Collection<UInt8>) {
        bytes += value
    }
}

struct SSHWireReader {
    struct Truncated: Error {}

    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var remaining: ArraySlice<UInt8> { bytes[offset...] }
    var isAtEnd: Bool { offset == bytes.count }

    mutating func readRaw(count: Int) throws -> [UInt8] {
        guard count >= 0, bytes.count - offset >= count else { throw Truncated() }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func readUInt32() throws -> UInt32 {
        try readRaw(count: 4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func readString() throws -> [UInt8] {
        let count = try readUInt32()
        return try readRaw(count: Int(count))
    }

    mutating func readText() throws -> String {
        String(decoding: try readString(), as: UTF8.self)
    }
}
