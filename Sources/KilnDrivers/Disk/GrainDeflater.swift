import CZlib

/// One zlib deflate stream, reset for every grain: each grain becomes a complete zlib stream
/// (RFC 1950 header, deflate data, Adler-32), which is what VMware, VirtualBox and qemu inflate.
/// Not thread-safe: each worker thread owns one.
final class GrainDeflater {
    private var stream = z_stream()
    /// Level 5, one below the default that qemu-img and VirtualBox use: measured on the benchmark's
    /// disks (docs/benchmarks.md), a third less CPU for files 0.6-0.7 % larger.
    static let level: Int32 = 5

    init() throws {
        let status = kiln_deflate_init(&stream, Self.level)
        guard status == Z_OK else { throw StreamOptimizedVMDKError.compression(status) }
    }

    deinit { deflateEnd(&stream) }

    /// The most bytes `compress` can produce from `count` bytes.
    func bound(_ count: Int) -> Int { Int(deflateBound(&stream, uLong(count))) }

    /// Compresses `input` whole into `output` (at least `bound(input.count)` bytes); returns the size.
    func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        var status = deflateReset(&stream)
        guard status == Z_OK else { throw StreamOptimizedVMDKError.compression(status) }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        stream.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(output.count)
        status = deflate(&stream, Z_FINISH)
        defer {
            stream.next_in = nil
            stream.next_out = nil
        }
        guard status == Z_STREAM_END else { throw StreamOptimizedVMDKError.compression(status) }
        return output.count - Int(stream.avail_out)
    }
}
