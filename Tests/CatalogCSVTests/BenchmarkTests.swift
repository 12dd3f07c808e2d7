import Foundation
import Testing
import CatalogCSV

/// Throughput on photos-like data (~270-byte rows, two quoted ~130-char URLs, 0.1% damaged).
/// Off by default; run it in a release build:
///
///     CATALOG_CSV_BENCH=1 swift test -c release --disable-testable-imports \
///         --scratch-path .build-csv --filter CatalogCSVTests.BenchmarkTests
///
/// `CATALOG_CSV_BENCH_MB` sets the file size (default 500).
@Suite struct BenchmarkTests {
    static let enabled = ProcessInfo.processInfo.environment["CATALOG_CSV_BENCH"] == "1"

    @Test(.enabled(if: BenchmarkTests.enabled)) func photosThroughput() throws {
        let megabytes = Int(ProcessInfo.processInfo.environment["CATALOG_CSV_BENCH_MB"] ?? "") ?? 500
        let path = "/tmp/catalog-csv-bench-photos-\(getpid()).csv"
        defer { unlink(path) }
        let (rows, damaged) = try writePhotos(path: path, bytes: megabytes * 1_000_000)

        for run in 1...3 {
            let start = ContinuousClock.now
            let converter = try CopyTextConverter(file: .photos, path: path)
            var out: [UInt8] = []
            out.reserveCapacity(2 << 20)
            var rejects = 0
            var produced = 0
            while try converter.fill(&out, minimumBytes: 1 << 20, onReject: { _ in rejects += 1 }) {
                produced += out.count
                out.removeAll(keepingCapacity: true)  // the importer hands the batch to PQputCopyData here
            }
            produced += out.count
            let elapsed = start.duration(to: .now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            let mbps = Double(converter.totalBytes) / 1e6 / seconds
            print("""
                CatalogCSV benchmark run \(run): photos \(converter.totalBytes / 1_000_000) MB, \(rows) rows \
                (\(damaged) damaged) in \(String(format: "%.3f", seconds)) s = \(String(format: "%.0f", mbps)) MB/s \
                (COPY text out: \(produced / 1_000_000) MB, \(converter.stats.repaired) repaired, \(rejects) rejected)
                """)
            #expect(converter.stats.rowsRead == rows)
            #expect(converter.stats.rowsAccepted + converter.stats.rejected == rows)
        }
    }

    /// Writes photo rows up to `bytes`; every 1000th row has an unclosed quote, every 1000th
    /// (offset by 500) a stray one. Returns (rows, damaged rows).
    private func writePhotos(path: String, bytes: Int) throws -> (Int, Int) {
        guard let handle = fopen(path, "w") else { throw POSIXError(.EIO) }
        defer { fclose(handle) }
        var chunk: [UInt8] = Array("id,styleId,url,thumbnail_url\n".utf8)
        var written = 0
        var rows = 0
        var damaged = 0
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        while written + chunk.count < bytes {
            rows += 1
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let photo = "photo-\(1_400_000_000_000 + Int(seed >> 24) % 600_000_000_000)-\(String(seed >> 40, radix: 16))"
            let query = "?ixlib=rb-1.2.1&ixid=eyJhcHBfaWQiOjEyMDd9&auto=format&fit=crop"
            let url = "https://images.unsplash.com/\(photo)\(query)&w=\(600 + Int(seed % 2200))&q=80"
            let thumb = "https://images.unsplash.com/\(photo)\(query)&w=300&q=80"
            let line: String
            switch rows % 1000 {
            case 0:
                line = "\(rows),\(rows / 3 + 1),\"\(url)\",\"\(thumb)\n"
                damaged += 1
            case 500:
                line = "\(rows),\(rows / 3 + 1),\(url)\",\"\(thumb)\"\n"
                damaged += 1
            default:
                line = "\(rows),\(rows / 3 + 1),\"\(url)\",\"\(thumb)\"\n"
            }
            chunk.append(contentsOf: line.utf8)
            if chunk.count > 1 << 20 {
                written += fwrite(chunk, 1, chunk.count, handle)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        written += fwrite(chunk, 1, chunk.count, handle)
        return (rows, damaged)
    }
}
