import CatalogImport
import Foundation
import Postgres
import Testing
import TestSupport

/// The real first rows of the legacy export, imported into a real PostgreSQL.
@Suite("Import of the real head rows")
struct AtelierHeadImportTests {
    @Test func countsAddUp() throws {
        let db = try CatalogDatabase("head")
        let report = try db.runImport(try Fixtures.copy(Fixtures.atelierHead))
        #expect(report.status == "ok")
        let expected: [(String, Int)] = [
            ("product.csv", 20), ("features.csv", 47), ("styles.csv", 65),
            ("skus.csv", 435), ("photos.csv", 332), ("related.csv", 92),
        ]
        for (file, read) in expected {
            let f = try #require(report.files.first { $0.file == file })
            #expect(f.read == read, "\(file)")
            #expect(f.rejected == 0, "\(file)")
            #expect(f.read == f.loaded + f.rejected + f.orphaned + f.dropped, "\(file)")
        }
        #expect(report[.product]?.loaded == 20)
        #expect(report[.styles]?.loaded == 65)
        #expect(report[.skus]?.loaded == 435)
        // Related rows to products beyond the head (ids > 20), to itself or repeated are dropped.
        #expect((report[.related]?.dropped ?? 0) > 0)
    }

    @Test func productOneExactly() throws {
        let db = try CatalogDatabase("head1")
        try db.runImport(try Fixtures.copy(Fixtures.atelierHead))

        let product = try #require(try db.doc("product_doc", 1) as? [String: Any])
        #expect(product["id"] as? Int == 1)
        #expect(product["name"] as? String == "Camo Onesie")
        #expect(product["slogan"] as? String == "Blend in to your crowd")
        #expect(product["category"] as? String == "Jackets")
        #expect(product["default_price"] as? String == "140.00")
        let features = try #require(product["features"] as? [[String: Any]])
        #expect(features.count == 2)
        #expect(features[0]["feature"] as? String == "Fabric")
        #expect(features[0]["value"] as? String == "Canvas")
        #expect(features[1]["feature"] as? String == "Buttons")

        let styles = try #require(try db.doc("styles_doc", 1) as? [String: Any])
        #expect(styles["product_id"] as? String == "1")
        let results = try #require(styles["results"] as? [[String: Any]])
        #expect(results.map { $0["style_id"] as? Int } == [1, 2, 3, 4, 5, 6])
        let first = results[0]
        #expect(first["name"] as? String == "Forest Green & Black")
        #expect(first["original_price"] as? String == "140.00")
        #expect(first["sale_price"] is NSNull)
        #expect(first["default?"] as? Bool == true)
        #expect(results[1]["default?"] as? Bool == false)
        #expect(results[2]["sale_price"] as? String == "100.00")
        let photos = try #require(first["photos"] as? [[String: String]])
        #expect(photos.count == 6)
        #expect(photos[0]["url"] == "https://images.unsplash.com/photo-1501088430049-71c79fa3283e?ixlib=rb-1.2.1&ixid=eyJhcHBfaWQiOjEyMDd9&auto=format&fit=crop&w=668&q=80")
        #expect(photos[0]["thumbnail_url"] == "https://images.unsplash.com/photo-1501088430049-71c79fa3283e?ixlib=rb-1.2.1&ixid=eyJhcHBfaWQiOjEyMDd9&auto=format&fit=crop&w=300&q=80")
        let skus = try #require(first["skus"] as? [String: [String: Any]])
        #expect(skus.count == 6)
        #expect(skus["1"]?["quantity"] as? Int == 8)
        #expect(skus["1"]?["size"] as? String == "XS")
        // Two skus with the same size both appear.
        #expect(skus["5"]?["size"] as? String == "XL")
        #expect(skus["6"]?["size"] as? String == "XL")

        #expect(try db.doc("related_doc", 1) as? [Int] == [2, 3, 8, 7])
    }

    @Test func placeholdersAndDropRules() throws {
        let db = try CatalogDatabase("head2")
        try db.runImport(try Fixtures.copy(Fixtures.atelierHead))

        // Product 2's styles have no skus and no photos: the legacy placeholders.
        let styles = try #require(try db.doc("styles_doc", 2) as? [String: Any])
        let results = try #require(styles["results"] as? [[String: Any]])
        #expect(results.count == 4)
        let photos = try #require(results[0]["photos"] as? [[String: Any]])
        #expect(photos.count == 1)
        #expect(photos[0]["url"] is NSNull && photos[0]["thumbnail_url"] is NSNull)
        let skus = try #require(results[0]["skus"] as? [String: [String: Any]])
        #expect(skus.keys.sorted() == ["null"])
        #expect(skus["null"]?["quantity"] is NSNull && skus["null"]?["size"] is NSNull)
        // Style 8 is product 2's default.
        #expect(results.map { $0["default?"] as? Bool } == [false, true, false, false])

        // A product with no styles: results [].
        let none = try #require(try db.doc("styles_doc", 11) as? [String: Any])
        #expect((none["results"] as? [Any])?.isEmpty == true)
        // A null feature value stays null.
        let p2 = try #require(try db.doc("product_doc", 2) as? [String: Any])
        let f = try #require(p2["features"] as? [[String: Any]])
        #expect(f[1]["feature"] as? String == "UV Protection" && f[1]["value"] is NSNull)

        // related: 4 → self dropped; 5 → repeated pair dropped; 6 → self and repeat dropped.
        #expect(try db.doc("related_doc", 4) as? [Int] == [1, 2, 5, 8])
        #expect(try db.doc("related_doc", 5) as? [Int] == [6, 8, 9, 1, 3])
        #expect(try db.doc("related_doc", 6) as? [Int] == [2, 5, 3])
        // The list documents, in rank order.
        let list = try #require(try db.doc("list_doc", 1) as? [String: Any])
        #expect(list["features"] == nil && list["default_price"] as? String == "140.00")
        #expect(try db.scalar("SELECT string_agg(id::text, ',' ORDER BY rank) FROM catalog.product WHERE rank <= 3") == "1,2,3")
    }

    @Test func theAPIRoleCanOnlyRead() throws {
        let db = try CatalogDatabase("roles")
        try db.runImport(try Fixtures.copy(Fixtures.atelierHead))
        let api = try Connection(conninfo: db.apiConninfo)
        #expect(try api.execute("SELECT count(*) FROM catalog.product").string(row: 0, column: 0) == "20")
        #expect(try api.execute("SHOW statement_timeout").string(row: 0, column: 0) == "2s")
        #expect(try api.execute("SHOW idle_in_transaction_session_timeout").string(row: 0, column: 0) == "10s")
        #expect(throws: PostgresError.self) { try api.execute("DELETE FROM catalog.product") }
        #expect(throws: PostgresError.self) { try api.execute("CREATE TABLE catalog.x (a int)") }
    }
}
