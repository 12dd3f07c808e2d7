import CZlib

/// gzip (RFC 1952) with zlib, for the documents the API sends to clients that accept it: the
/// importer compresses each document once (CatalogImport's gzip phase), the worker compresses
/// only what the import could not (a list page, a catalog imported before this existed).
///
/// One compressor keeps its zlib state (~256 KB at memLevel 8) and resets it per document:
/// initialising it per document costs more than compressing a 5 KB one.
public final class GzipCompressor {
    private var stream = z_stream()
    public let level: Int32

    /// `level` 1 (fastest) … 9 (smallest); zlib's default is 6.
    public init(level: Int32) {
        precondition((1...9).contains(level), "gzip level \(level) is not 1...9")
        self.level = level
        let status = products_deflate_init(&stream, level)
        precondition(status == Z_OK, "deflateInit2 failed (\(status)): out of memory")
    }

    deinit { deflateEnd(&stream) }

    /// Appends `input` compressed as one gzip member to `out`; returns the compressed length.
    @discardableResult
    public func compress(_ input: UnsafeRawBufferPointer, appendingTo out: inout [UInt8]) -> Int {
        deflateReset(&stream)
        let bound = Int(deflateBound(&stream, uLong(input.count)))
        let start = out.count
        out.reserveCapacity(start + bound)
        out.append(contentsOf: repeatElement(0, count: bound))
        let produced = out.withUnsafeMutableBytes { buffer -> Int in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            stream.next_out = buffer.baseAddress!.advanced(by: start).assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(bound)
            // deflateBound guarantees room for everything in one call.
            let status = deflate(&stream, Z_FINISH)
            precondition(status == Z_STREAM_END, "deflate did not finish within deflateBound (\(status))")
            return bound - Int(stream.avail_out)
        }
        out.removeLast(bound - produced)
        return produced
    }

    public func compress(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        input.withUnsafeBytes { _ = compress($0, appendingTo: &out) }
        return out
    }
}

public enum Gzip {
    /// True when `bytes` start like a gzip member (ID1 ID2 = 1f 8b). No JSON document does
    /// (it starts with `{`, `[`, a digit, `"`, `t`, `f` or `n`), which is how a column may hold
    /// either a document or its gzip and say which by itself.
    public static func isGzip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    public enum DecompressError: Error, Equatable { case corrupt(Int32) }

    /// The whole of one gzip member, decompressed (tests and tools; the service never
    /// decompresses).
    public static func decompress(_ input: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        guard products_inflate_init(&stream) == Z_OK else { throw DecompressError.corrupt(Z_MEM_ERROR) }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        return try input.withUnsafeBytes { inBuffer in
            stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(inBuffer.count)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBytes { buffer -> (Int32, Int) in
                    stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(buffer.count)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    return (status, buffer.count - Int(stream.avail_out))
                }
                out.append(contentsOf: chunk[..<produced])
                if status == Z_STREAM_END { return out }
                guard status == Z_OK, produced > 0 || stream.avail_in > 0 else { throw DecompressError.corrupt(status) }
            }
        }
    }
}
