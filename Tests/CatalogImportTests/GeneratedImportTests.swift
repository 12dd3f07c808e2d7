import CatalogDatagen
import CatalogImport
import Foundation
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
