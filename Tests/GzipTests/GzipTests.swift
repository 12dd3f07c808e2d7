import Gzip
import Testing

@Suite struct GzipTests {
    let document = Array(#"{"product_id":"1","results":[{"style_id":1,"name":"Forest Green & Black","original_price":"140.00","sale_price":null,"default?":true,"photos":[{"thumbnail_url":"https://images.example/1.jpg","url":"https://images.example/1-full.jpg"}],"skus":{"1":{"quantity":8,"size":"XS"},"2":{"quantity":16,"size":"S"}}}]}"#.utf8)

    @Test(arguments: [1, 6, 9] as [Int32])
    func roundTripsAndShrinks(level: Int32) throws {
        let compressor = GzipCompressor(level: level)
        let big = Array((0..<20).map { _ in document }.joined())
        let packed = compressor.compress(big)
        #expect(packed.withUnsafeBytes { Gzip.isGzip($0) })
        #expect(packed.count < big.count / 4)
        #expect(try Gzip.decompress(packed) == big)
    }

    @Test func oneCompressorManyDocumentsAppends() throws {
        let compressor = GzipCompressor(level: 6)
        var out: [UInt8] = [0xAA]
        let first = document.withUnsafeBytes { compressor.compress($0, appendingTo: &out) }
        let second = [UInt8]().withUnsafeBytes { compressor.compress($0, appendingTo: &out) }
        #expect(out.count == 1 + first + second && out[0] == 0xAA)
        #expect(try Gzip.decompress(Array(out[1..<(1 + first)])) == document)
        #expect(try Gzip.decompress(Array(out[(1 + first)...])) == [])
    }

    @Test func jsonIsNeverTakenForGzip() {
        for text in ["{}", "[]", "[1,2]", "\"x\"", "null", "1", ""] {
            #expect(!Array(text.utf8).withUnsafeBytes { Gzip.isGzip($0) }, "\(text)")
        }
    }

    @Test func corruptInputThrows() {
        var packed = GzipCompressor(level: 1).compress(document)
        packed[packed.count / 2] ^= 0xFF
        packed[packed.count - 6] ^= 0xFF   // the CRC-32 too: a flipped data byte alone may still inflate
        #expect(throws: Gzip.DecompressError.self) { try Gzip.decompress(packed) }
        #expect(throws: Gzip.DecompressError.self) { try Gzip.decompress(Array(packed.prefix(10))) }
    }
}
