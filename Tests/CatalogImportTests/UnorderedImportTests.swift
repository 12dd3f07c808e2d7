import CatalogImport
import Foundation
import Postgres
import Testing
import TestSupport

/// The importer groups skus, photos, features and related rows per parent while loading,
/// which needs each parent's rows together and the parents ascending (the real export's
/// order). A file in another order is loaded again row by row and aggregated in SQL: the
/// documents must be exactly the same.
@Suite("Import of files whose rows are not in parent order")
struct UnorderedImportTests {
    /// Moves the rows of the first parent (second column) of a file to its end.
    static func moveFirstParentToTheEnd(_ path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let header = lines.removeFirst()
        let parent = { (line: String) in line.split(separator: ",", maxSplits: 2).dropFirst().first.map(String.init) }
        let first = parent(lines[0])
        let moved = lines.filter { parent($0) == first }
        let rest = lines.filter { parent($0) != first }
        try ([header] + rest + moved).joined(separator: "\n").appending("\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func unorderedFilesGiveTheSameCatalog() throws {
        let ordered = try CatalogDatabase("ordered")
        let orderedReport = try ordered.runImport(try Fixtures.copy(Fixtures.atelierHead)) { $0.keepStaging = true }

        let dir = try Fixtures.copy(Fixtures.atelierHead)
        for file in ["skus.csv", "photos.csv", "features.csv", "related.csv"] {
            try Self.moveFirstParentToTheEnd(dir + "/" + file)
        }
        let unordered = try CatalogDatabase("unordered")
        let report = try unordered.runImport(dir) { $0.keepStaging = true }

        #expect(try unordered.digest() == ordered.digest())
        for (a, b) in zip(report.files, orderedReport.files) {
            #expect(a.read == b.read && a.loaded == b.loaded && a.orphaned == b.orphaned && a.dropped == b.dropped, "\(a.file)")
        }
        // The slow path was taken (and the fast one for the ordered files).
        for file in ["skus", "photos", "features", "related"] {
            #expect(try unordered.scalar("SELECT to_regclass('\(report.schema).\(file)_by_parent') IS NOT NULL") == "t", "\(file)")
            #expect(try ordered.scalar("SELECT to_regclass('\(orderedReport.schema).\(file)_by_parent') IS NULL") == "t", "\(file)")
        }
        // Only styles.csv out of order: skus and photos get one staging row per style each,
        // and SQL joins them to the styles.
        let stylesOnly = try Fixtures.copy(Fixtures.atelierHead)
        try Self.moveFirstParentToTheEnd(stylesOnly + "/styles.csv")
        let third = try CatalogDatabase("unorderedstyles")
        let thirdReport = try third.runImport(stylesOnly) { $0.keepStaging = true }
        #expect(try third.digest() == ordered.digest())
        #expect(try third.scalar("SELECT count(*) > 0 FROM \(thirdReport.schema).raw_photos") == "t")
        #expect(try third.scalar("SELECT to_regclass('\(thirdReport.schema).photos_by_parent') IS NULL") == "t")
        #expect(try ordered.scalar("SELECT count(*) FROM \(orderedReport.schema).raw_photos") == "0")

        // Spot checks against the API's rules on the row-by-row path.
        #expect(try unordered.doc("related_doc", 1) as? [Int] == [2, 3, 8, 7])
        #expect(try unordered.doc("related_doc", 5) as? [Int] == [6, 8, 9, 1, 3])
        let styles = try #require(try unordered.doc("styles_doc", 1) as? [String: Any])
        let first = try #require((styles["results"] as? [[String: Any]])?.first)
        #expect((first["skus"] as? [String: Any])?.keys.sorted() == ["1", "2", "3", "4", "5", "6"])
        #expect((first["photos"] as? [Any])?.count == 6)
    }
}
