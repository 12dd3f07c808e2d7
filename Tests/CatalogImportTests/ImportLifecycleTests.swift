import CatalogImport
import Foundation
import Postgres
import Testing
import TestSupport

/// What happens around an import: repeats, failures, leftovers, clear errors.
@Suite("Import lifecycle")
struct ImportLifecycleTests {
    @Test func importingTheSameFilesTwiceGivesTheSameCatalog() throws {
        let db = try CatalogDatabase("twice")
        let dir = try Fixtures.copy(Fixtures.atelierHead)
        try db.runImport(dir)
        let first = try db.digest()
        try db.runImport(dir)
        #expect(try db.digest() == first)
        // The old catalog's schema was dropped: exactly one import schema remains.
        #expect(try db.scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'catalog_import_%'") == "1")
        #expect(try db.scalar("SELECT count(*) FROM catalog.import_history") == "2")
    }

    @Test func aFailedImportLeavesThePreviousCatalogServing() throws {
        let db = try CatalogDatabase("fail")
        let good = try Fixtures.copy(Fixtures.atelierHead)
        try db.runImport(good)
        let before = try db.digest()
        let generation = try db.scalar("SELECT DISTINCT generation FROM catalog.product")

        // Every product row damaged: over the reject limit, the import fails as a whole.
        let bad = try Fixtures.copy(Fixtures.atelierHead)
        let lines = try String(contentsOfFile: bad + "/product.csv", encoding: .utf8).split(separator: "\n")
        let damaged = [String(lines[0])] + lines.dropFirst().map { "x" + $0 }
        try damaged.joined(separator: "\n").write(toFile: bad + "/product.csv", atomically: true, encoding: .utf8)
        #expect(throws: ImportError.self) { try db.runImport(bad) { $0.maxRejects = 5 } }

        #expect(try db.digest() == before)
        #expect(try db.scalar("SELECT DISTINCT generation FROM catalog.product") == generation, "a failed import changed the generation (the ETags)")
        #expect(try db.scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'catalog_import_%'") == "1")
    }

    /// Every swap has its own generation (the ETags' first part), read by the API's role with the
    /// data; Deploy/sql/database.sql gives one to a catalog an older importer swapped in.
    @Test func eachSwapHasAGenerationAndDatabaseSQLGivesOneToAnOlderCatalog() throws {
        let db = try CatalogDatabase("generation")
        let dir = try Fixtures.copy(Fixtures.atelierHead)
        try db.runImport(dir)
        let live = try #require(try db.scalar("SELECT schema_name FROM catalog.import_history ORDER BY id DESC LIMIT 1"))
        let first = try #require(try db.scalar("SELECT DISTINCT generation FROM catalog.product"))
        #expect(live == "catalog_import_" + first)
        let api = try Connection(conninfo: db.apiConninfo)
        #expect(try api.execute("SELECT count(DISTINCT generation) FROM catalog.product").string(row: 0, column: 0) == "1")
        try db.runImport(dir)
        let second = try #require(try db.scalar("SELECT DISTINCT generation FROM catalog.product"))
        #expect(second != first, "the same files imported again are a new generation")

        // The view as an importer without generations made it; then the install's SQL.
        let owner = try Connection(conninfo: db.ownerConninfo)
        let schema = "catalog_import_" + second
        try owner.execute("DROP VIEW catalog.product")
        try owner.execute("CREATE VIEW catalog.product AS SELECT id, rank, list_doc, product_doc, styles_doc, related_doc FROM \(schema).product")
        try TestCluster.shared.psqlFile(Repository.path("Deploy/sql/database.sql"), database: db.name)
        #expect(try db.scalar("SELECT DISTINCT generation FROM catalog.product") == second)
        try TestCluster.shared.psqlFile(Repository.path("Deploy/sql/database.sql"), database: db.name)  // idempotent
        #expect(try db.scalar("SELECT DISTINCT generation FROM catalog.product") == second)
    }

    @Test func rejectRateGuardStopsAGarbageExport() throws {
        let db = try CatalogDatabase("rate")
        let bad = try Fixtures.copy(Fixtures.atelierHead)
        let text = try String(contentsOfFile: bad + "/skus.csv", encoding: .utf8)
        // Shift every row's quantity into a non-number: all skus rejected.
        let shifted = text.split(separator: "\n").enumerated().map { i, line in i == 0 ? String(line) : line + "x" }
        try shifted.joined(separator: "\n").write(toFile: bad + "/skus.csv", atomically: true, encoding: .utf8)
        let error = #expect(throws: ImportError.self) { try db.runImport(bad) }
        #expect(error?.description.contains("too many rejected rows") == true)
        // Nothing was ever swapped in.
        #expect(try db.scalar("SELECT count(*) FROM catalog.import_history") == "0")
    }

    @Test func leftoversOfAKilledImportAreCleanedByTheNextRun() throws {
        let db = try CatalogDatabase("leftover")
        let owner = try Connection(conninfo: db.ownerConninfo)
        try owner.execute("CREATE SCHEMA catalog_import_19700101_000000_1; CREATE TABLE catalog_import_19700101_000000_1.raw_product (id int)")
        try db.runImport(try Fixtures.copy(Fixtures.atelierHead))
        #expect(try db.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'catalog_import_19700101_000000_1'") == "0")
    }

    @Test func clearErrors() throws {
        let db = try CatalogDatabase("errors")
        let missing = try Fixtures.copy(Fixtures.atelierHead)
        try FileManager.default.removeItem(atPath: missing + "/skus.csv")
        let e1 = #expect(throws: ImportError.self) { try db.runImport(missing) }
        #expect(e1?.description.contains("skus.csv") == true)

        let header = try Fixtures.copy(Fixtures.atelierHead)
        let styles = try String(contentsOfFile: header + "/styles.csv", encoding: .utf8)
        try styles.replacingOccurrences(of: "default_style", with: "default").write(toFile: header + "/styles.csv", atomically: true, encoding: .utf8)
        let e2 = #expect(throws: ImportError.self) { try db.runImport(header) }
        #expect(e2?.description.contains("styles.csv") == true)

        let good = try Fixtures.copy(Fixtures.atelierHead)
        let e3 = #expect(throws: ImportError.self) {
            try db.runImport(good) { $0.database = "host=/nonexistent-socket-dir dbname=x connect_timeout=2" }
        }
        #expect(e3?.description.contains("cannot connect") == true)
    }

    @Test func rejectsFileListsFileLineReasonAndRawText() throws {
        let db = try CatalogDatabase("rejects")
        let dir = try Fixtures.copy(Fixtures.atelierHead)
        var features = try String(contentsOfFile: dir + "/features.csv", encoding: .utf8)
        if !features.hasSuffix("\n") { features += "\n" }
        features += "48,1,\"Fabric\"\n"          // wrong number of fields (line 49)
        features += "1,2,\"Dup\",\"licate\"\n"   // duplicate id 1 (line 50): the first row wins
        try features.write(toFile: dir + "/features.csv", atomically: true, encoding: .utf8)
        let report = try db.runImport(dir)
        #expect(report[.features]?.rejected == 2)
        let rejects = try String(contentsOfFile: dir + "/rejects.csv", encoding: .utf8)
        let rows = rejects.split(separator: "\n")
        #expect(rows.first == "file,line,reason,raw")
        #expect(rows.count == 3)
        #expect(rows[1].hasPrefix("features.csv,49,"))
        #expect(rows[1].hasSuffix(",\"48,1,\"\"Fabric\"\"\""))
        #expect(rows[2].hasPrefix("features.csv,50,"))
        #expect(rows[2].lowercased().contains("duplicate"))
        let p1 = try #require(try db.doc("product_doc", 1) as? [String: Any])
        #expect((p1["features"] as? [[String: Any]])?.first?["value"] as? String == "Canvas")
    }
}
