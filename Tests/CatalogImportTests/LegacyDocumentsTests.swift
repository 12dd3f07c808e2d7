@testable import CatalogImport
import CatalogCSV
import Foundation
import Testing
import TestSupport

/// The renderer against the legacy service itself: the five real responses in the fixtures
/// are turned back into CSV rows in the export's order (`LegacyFixture`), read by `RecordReader`, rendered by
/// `LegacyDocuments` through `DocumentRows` and `StyleMerger` (no database), and put together
/// from the same pieces the build's SQL concatenates; every document must equal the legacy
/// response, with its keys in the legacy order.
@Suite("Legacy documents rendered from CSV rows")
struct LegacyDocumentsTests {
    typealias L = LegacyDocuments

    let fixture: LegacyFixture
    let dir: String

    init() throws {
        fixture = try LegacyFixture()
        dir = NSTemporaryDirectory() + "legacy-docs-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try fixture.writeCSVs(to: dir, ordered: true)
    }

    func reader(_ file: CatalogFile) throws -> RecordReader {
        try RecordReader(file: file, path: dir + "/" + file.fileName)
    }

    /// A file's binary COPY tuples, rendered by `DocumentRows`.
    func rows(_ file: CatalogFile, products: ProductIDs? = nil) throws -> [[DocumentRowsTests.Field]] {
        let rows = DocumentRows(file: file, mode: .grouped, products: products)
        let out = ByteBuffer(capacity: 1 << 16)
        BinaryCopy.appendHeader(out)
        let r = try reader(file)
        while try rows.read(r, into: out, until: { _ in false }, onReject: { Issue.record("rejected: \($0.reason)") }) {}
        BinaryCopy.appendTrailer(out)
        return try DocumentRowsTests.decode(Array(out.bytes), columns: CatalogSQL.stagingColumns(file))
    }

    func text(_ field: DocumentRowsTests.Field) -> String { field.description }

    func piece(_ s: StaticString) -> String { s.description }

    func parse(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    /// The keys appear in this order (each first occurrence after the previous one).
    func expectKeyOrder(_ text: String, _ keys: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        var from = text.startIndex
        for key in keys {
            guard let r = text.range(of: "\"\(key)\":", range: from..<text.endIndex) else {
                Issue.record("key \(key) missing or out of order in \(text.prefix(200))", sourceLocation: sourceLocation)
                return
            }
            from = r.upperBound
        }
    }

    @Test func productPagesAndListEntries() throws {
        var heads: [Int: String] = [:]
        let products = try rows(.product)
        for row in products {
            guard case .int(let id) = row[0] else { continue }
            heads[id] = text(row[1])
        }
        var features: [Int: String] = [:]
        for row in try rows(.features) {
            guard case .int(let id) = row[0] else { continue }
            features[id] = text(row[3])
        }
        #expect(Set(heads.keys) == Set(fixture.productIDs))
        for id in fixture.productIDs {
            // As CatalogSQL.insertProducts puts them together.
            let page = heads[id]! + piece(L.featuresKey) + (features[id] ?? piece(L.emptyArray)) + piece(L.productClose)
            let expected = fixture.product(id)
            #expect(jsonEqual(try parse(page), expected), "product \(id): \(page)")
            expectKeyOrder(page, ["id", "name", "slogan", "description", "category", "default_price", "features", "feature", "value"])
            var listEntry = expected
            listEntry["features"] = nil
            #expect(jsonEqual(try parse(heads[id]! + piece(L.productClose)), listEntry))
        }
    }

    @Test func stylesDocumentsWithPlaceholders() throws {
        func source(_ file: CatalogFile) throws -> GroupSource {
            GroupSource(reader: try reader(file), progress: FileProgress(file: file, totalBytes: 0)) {
                Issue.record("rejected: \($0.reason)")
            }
        }
        let merger = StyleMerger(styles: try source(.styles), skus: try source(.skus), photos: try source(.photos))
        var bytes: [UInt8] = []
        try merger.run(into: ByteBuffer(capacity: 1 << 16), chunkSize: 64) { full, _ in
            bytes += Array(full.bytes)
            return ByteBuffer(capacity: 1 << 16)
        }
        let rows = try DocumentRowsTests.decode(bytes, columns: CatalogSQL.productStylesColumns)
        var placeholders = 0
        for row in rows {
            guard case .int(let id) = row[0] else { continue }
            let doc = text(row[4])
            #expect(jsonEqual(try parse(doc), fixture.styles(id)), "product \(id): \(doc)")
            expectKeyOrder(doc, ["product_id", "results", "style_id", "name", "original_price", "sale_price", "default?", "photos", "skus"])
            placeholders += doc.components(separatedBy: piece(L.noPhotos)).count - 1
            placeholders += doc.components(separatedBy: piece(L.noSkus)).count - 1
        }
        #expect(Set(rows.compactMap { if case .int(let id) = $0[0] { id } else { nil } }) == Set(fixture.productIDs))
        // The real responses hold styles without photos or skus: the placeholders were rendered.
        #expect(placeholders > 0)
    }
}
