import Gzip
import Postgres
import Synchronization

/// Phase 3b: every document compressed once, here, so that no request compresses one
/// (docs/api.md, "Compression"). Each job streams its range of `product` out with a binary
/// COPY, compresses each document on this process's thread (under the import's CPU and I/O
/// priority, not a PostgreSQL backend's) and streams the results into `product_gzip` with a
/// binary COPY on a second connection: the rows are written once.
struct GzipPhase {
    let session: ImportSession
    let schema: String

    /// zlib's level for the stored documents. `Deploy/bench/compression` on the full-scale
    /// catalog's styles documents (docs/api.md, "Compression"): level 1 leaves 17.5 % of the
    /// bytes at ~145 MB/s per core, 6 (zlib's default) 16.3 % at ~94 MB/s, 9 16.2 % at ~93.
    /// Paid once per import, the bytes on every answer: 6.
    static let level: Int32 = 6

    /// What the phase did, summed over the jobs.
    struct Totals {
        var products = 0
        var documents = 0
        var compressed = 0
        var identityBytes = 0
        var storedBytes = 0
    }

    /// `parts`: the id ranges of BuildPhase, each with its number of products (for progress).
    func run(parts: [(from: Int?, to: Int?, count: Int, label: String)]) throws -> Totals {
        try session.checkCancelled()
        let totals = Mutex(Totals())
        try runOnThreads(width: session.options.jobs, parts.map { part in
            { @Sendable [self] in
                let mine = try compress(from: part.from, to: part.to, count: part.count, label: part.label)
                totals.withLock {
                    $0.products += mine.products
                    $0.documents += mine.documents
                    $0.compressed += mine.compressed
                    $0.identityBytes += mine.identityBytes
                    $0.storedBytes += mine.storedBytes
                }
            }
        })
        let sum = totals.withLock { $0 }
        session.logger.info("gzip: \(sum.compressed) of \(sum.documents) documents stored compressed, \(megabytes(sum.identityBytes)) MB → \(megabytes(sum.storedBytes)) MB (\(fixed(100 * Double(sum.storedBytes) / Double(max(sum.identityBytes, 1)), 1)) %)")
        return sum
    }

    private func compress(from: Int?, to: Int?, count: Int, label: String) throws -> Totals {
        let start = monotonicNanos()
        let source = try session.connect()
        try source.execute(CatalogSQL.buildSessionSettings + CatalogSQL.productPlanSettings)
        let target = try session.connect()
        try target.execute(CatalogSQL.buildSessionSettings)
        let compressor = GzipCompressor(level: Self.level)
        var totals = Totals()
        var reader = BinaryCopyFormat.Reader()
        let row = ByteBuffer(capacity: 64 * 1024)
        var packed: [UInt8] = []
        packed.reserveCapacity(64 * 1024)
        try target.copyIn(CatalogSQL.copyGzipDocuments(schema)) { writer in
            BinaryCopy.appendHeader(row)
            try writer.write(row.bytes)
            try source.copyOut(CatalogSQL.copyDocuments(schema, from: from, to: to)) { chunk in
                try reader.feed(chunk) { fields in
                    guard fields.count == 4, let idField = fields[0], let id = BinaryCopyFormat.int4(idField) else {
                        throw ImportError.database("gzip phase: unexpected row from \(schema).product")
                    }
                    row.removeAll()
                    row.appendInt16(4)
                    BinaryCopy.appendInteger(Int(id), to: row)
                    for field in fields.dropFirst() {
                        guard let document = field else {
                            throw ImportError.database("gzip phase: product \(id) has a NULL document")
                        }
                        packed.removeAll(keepingCapacity: true)
                        let size = compressor.compress(document, appendingTo: &packed)
                        let smaller = size < document.count
                        let stored = smaller ? size : document.count
                        row.appendInt32(Int32(stored))
                        if smaller {
                            packed.withUnsafeBufferPointer { row.append($0.baseAddress!, size) }
                        } else if stored > 0 {
                            row.append(document.baseAddress!.assumingMemoryBound(to: UInt8.self), stored)
                        }
                        totals.documents += 1
                        totals.identityBytes += document.count
                        totals.storedBytes += stored
                        if smaller { totals.compressed += 1 }
                    }
                    try writer.write(row.bytes)
                    totals.products += 1
                    if totals.products % 50_000 == 0 {
                        try session.checkCancelled()
                        // Progress on a terminal: ~10 lines per part.
                        if session.options.showProgress, totals.products % max(50_000, count / 10 / 50_000 * 50_000) == 0 {
                            let seconds = elapsed(since: start)
                            let rate = Double(totals.identityBytes) / 1e6 / max(seconds, 0.001)
                            let left = Double(count - totals.products) / Double(totals.products) * seconds
                            session.logger.info("gzip documents \(label): \(totals.products) of \(count) products, \(fixed(rate, 0)) MB/s, ETA \(fixed(max(left, 0), 0)) s")
                        }
                    }
                }
            }
            guard reader.finished else { throw ImportError.database("gzip phase: the COPY of \(schema).product ended early") }
            row.removeAll()
            BinaryCopy.appendTrailer(row)
            try writer.write(row.bytes)
        }
        session.logger.info("built gzip documents \(label)", metadata: [
            "seconds": "\(fixed(elapsed(since: start), 1))", "products": "\(totals.products)",
            "mb_in": "\(megabytes(totals.identityBytes))", "mb_out": "\(megabytes(totals.storedBytes))",
        ])
        return totals
    }

    private func megabytes(_ bytes: Int) -> String { fixed(Double(bytes) / 1e6, 1) }
}
