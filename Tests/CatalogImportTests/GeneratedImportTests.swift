import CatalogDatagen
import CatalogImport
import Foundation
import Gzip
import Postgres
import Testing
import TestSupport

/// A generated export with every kind of damage of the real one, imported into a real
/// PostgreSQL: the importer's summary must be exactly what the generator says it injected.
@Suite("Import of a generated, damaged export")
struct GeneratedImportTests {
    struct Imported {
        let db: CatalogDatabase
        let dir: String
        let manifest: Manifest
        let report: ImportReport
    }

    static func importGenerated(_ hint: String) throws -> Imported {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gen-\(UUID().uuidString)").path
        var options = GeneratorOptions()
        options.scale = 0.002
        options.seed = 7
        let manifest = try generateExport(to: dir, options: options)
        let db = try CatalogDatabase(hint)
        let report = try db.runImport(dir)
        return Imported(db: db, dir: dir, manifest: manifest, report: report)
    }

    @Test func summaryMatchesTheGeneratorsManifest() throws {
        let run = try Self.importGenerated("genmanifest")
        defer { try? FileManager.default.removeItem(atPath: run.dir) }
        for expected in run.manifest.files {
            let got = try #require(run.report.files.first { $0.file == expected.file })
            #expect(got.read == expected.read, "\(expected.file) read")
            #expect(got.loaded == expected.loaded, "\(expected.file) loaded")
            #expect(got.repaired == expected.repaired, "\(expected.file) repaired")
            #expect(got.rejected == expected.rejected, "\(expected.file) rejected")
            #expect(got.orphaned == expected.orphaned, "\(expected.file) orphaned")
            #expect(got.dropped == expected.dropped, "\(expected.file) dropped")
        }
        // Every kind of damage was there to be handled.
        for file in run.manifest.files {
            #expect(file.rejected > 0 || file.file == "related.csv" && file.dropped > 0, "\(file.file) has no damage")
        }
        #expect(run.report[.photos]?.repaired ?? 0 > 0)
        #expect(try run.db.scalar("SELECT count(*) FROM catalog.product") == String(run.manifest.totals.products))
    }

    /// Every document of catalog.product_gzip is the gzip of the served document or, where
    /// gzip would not be smaller, the document itself; both views name one generation; the
    /// API role reads it.
    @Test func gzipDocumentsDecodeToTheServedOnes() throws {
        let run = try Self.importGenerated("gengzip")
        defer { try? FileManager.default.removeItem(atPath: run.dir) }
        let api = try Connection(conninfo: run.db.apiConninfo)
        let plain = try api.execute("SELECT id, product_doc, styles_doc, related_doc, generation FROM catalog.product ORDER BY id")
        let packed = try api.execute("SELECT id, product_doc, styles_doc, related_doc, generation FROM catalog.product_gzip ORDER BY id")
        #expect(plain.rowCount == run.manifest.totals.products && packed.rowCount == plain.rowCount)
        var compressed = [0, 0, 0], identityBytes = 0, storedBytes = 0
        for row in 0..<min(plain.rowCount, packed.rowCount) {
            #expect(plain.string(row: row, column: 0) == packed.string(row: row, column: 0))
            #expect(plain.string(row: row, column: 4) == packed.string(row: row, column: 4))
            for column in 1...3 {
                let document = plain.withBytes(row: row, column: column) { Array($0) }
                // bytea arrives in its text form (\x + hex) over the simple protocol.
                let hex = try #require(packed.string(row: row, column: column))
                let stored = try #require(Self.bytes(hex: hex))
                identityBytes += document.count
                storedBytes += stored.count
                if stored.withUnsafeBytes({ Gzip.isGzip($0) }) {
                    compressed[column - 1] += 1
                    #expect(stored.count < document.count)
                    #expect(try Gzip.decompress(stored) == document, "product \(plain.string(row: row, column: 0) ?? "?") column \(column)")
                } else {
                    #expect(stored == document)
                }
            }
        }
        // Styles documents are long (they compress); related lists are short (they do not).
        #expect(compressed[1] > plain.rowCount * 9 / 10, "\(compressed)")
        #expect(compressed[2] < plain.rowCount / 10, "\(compressed)")
        #expect(storedBytes * 100 < identityBytes * 35, "\(storedBytes) of \(identityBytes) bytes")
    }

    static func bytes(hex: String) -> [UInt8]? {
        guard hex.hasPrefix("\\x") else { return nil }
        var out: [UInt8] = []
        var high: UInt8? = nil
        for c in hex.utf8.dropFirst(2) {
            guard let v = UInt8(String(UnicodeScalar(c)), radix: 16) else { return nil }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return high == nil ? out : nil
    }

    @Test func repairedPhotosListedRejectsAndRelatedRules() throws {
        let run = try Self.importGenerated("gensamples")
        defer { try? FileManager.default.removeItem(atPath: run.dir) }
        let api = try Connection(conninfo: run.db.apiConninfo)

        // A repaired photo is served with its url and thumbnail exactly as repaired.
        let repaired = run.manifest.samples.repaired.filter { $0.file == "photos.csv" }
        #expect(!repaired.isEmpty)
        for sample in repaired {
            let r = try api.execute("""
                SELECT s FROM catalog.product, json_array_elements(styles_doc::json -> 'results') s
                WHERE (s ->> 'style_id')::int = $1::int
                """, [sample.parentId])
            let style = try #require(r.string(row: 0, column: 0), "style \(sample.parentId) of repaired photo \(sample.id)")
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(style.utf8)) as? [String: Any])
            let photos = try #require(doc["photos"] as? [[String: Any]])
            #expect(photos.contains { $0["url"] as? String == sample.url && $0["thumbnail_url"] as? String == sample.thumbnailUrl },
                    "photo \(sample.id) (\(sample.kind)) not served as repaired")
        }

        // The listed rejects are in the reject file, at their file and line.
        // (raw bytes that are not UTF-8 are kept as they were: decode leniently)
        let rejects = String(decoding: try Data(contentsOf: URL(fileURLWithPath: run.dir + "/rejects.csv")), as: UTF8.self)
        #expect(!run.manifest.samples.rejects.isEmpty)
        for sample in run.manifest.samples.rejects {
            #expect(rejects.contains("\n\(sample.file),\(sample.line),"), "\(sample.file):\(sample.line) \(sample.kind) not in the reject file")
        }

        // Related rows to 0, unknown products, itself, or repeated pairs are gone, in row order.
        #expect(!run.manifest.samples.related.isEmpty)
        for expected in run.manifest.samples.related {
            #expect(try run.db.doc("related_doc", expected.productId) as? [Int] == expected.related, "related of \(expected.productId) (\(expected.because))")
        }
    }
}
