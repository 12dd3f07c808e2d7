@testable import CatalogImport
import CatalogCSV
import Foundation
import Testing

/// The JSON pieces the importer renders while loading (no database): what `DocumentRows`
/// makes of the converter's COPY text lines, decoded back from binary COPY.
@Suite("JSON pieces rendered while loading")
struct DocumentRowsTests {
    // MARK: JSONText

    /// Renders one COPY text field with `body` and parses the result as JSON.
    func rendered(_ field: String, _ body: (ByteBuffer, UnsafePointer<UInt8>, Int, Int) -> Void) throws -> Any {
        let out = ByteBuffer(capacity: 16)
        let bytes = Array(field.utf8)
        bytes.withUnsafeBufferPointer { body(out, $0.baseAddress!, 0, $0.count) }
        let data = Data(UnsafeRawBufferPointer(start: out.base, count: out.count))
        return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }

    @Test func stringsAreEscapedForJSONAndUnescapedFromCOPY() throws {
        let cases: [(copy: String, text: String)] = [
            ("plain", "plain"),
            ("", ""),
            (#"say "hi""#, #"say "hi""#),
            (#"back\\slash"#, #"back\slash"#),
            (#"tab\there"#, "tab\there"),
            (#"two\nlines\r\n"#, "two\nlines\r\n"),
            ("bell\u{07}and\u{1F}unit", "bell\u{07}and\u{1F}unit"),
            ("ünïcødé – 🧥", "ünïcødé – 🧥"),
            (#"\\N"#, #"\N"#),  // the text `\N`, not NULL
            (#"null"#, "null"),  // the text null
            (#""quoted" \\ "#, #""quoted" \ "#),
        ]
        for c in cases {
            let value = try rendered(c.copy) { JSONText.appendString($0, $1, $2, $3) }
            #expect(value as? String == c.text, "\(c.copy)")
        }
        #expect(try rendered(#"\N"#) { JSONText.appendString($0, $1, $2, $3) } is NSNull)
    }

    @Test func theEightByteScanMissesNothing() {
        // Every byte value in every position of a word, against the plain test.
        for position in 0..<8 {
            for value in 0...255 {
                var bytes = [UInt8](repeating: 0x61, count: 8)
                bytes[position] = UInt8(value)
                let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                let plain = value < 0x20 || value == 0x22 || value == 0x5C
                #expect(JSONText.needsAttention(word) == plain, "byte \(value) at \(position)")
            }
        }
        // Strings longer than a word, with the special byte anywhere.
        for length in 1...40 {
            for at in 0..<length {
                let text = String(repeating: "x", count: at) + "\"" + String(repeating: "y", count: length - at - 1)
                let out = ByteBuffer(capacity: 8)
                Array(text.utf8).withUnsafeBufferPointer { JSONText.appendString(out, $0.baseAddress!, 0, $0.count) }
                let parsed = try? JSONSerialization.jsonObject(with: Data(out.bytes), options: [.fragmentsAllowed]) as? String
                #expect(parsed == text)
            }
        }
    }

    @Test func pricesHaveTwoDecimalsAsStrings() throws {
        let cases = [("140", "140.00"), ("69.5", "69.50"), ("0.5", "0.50"), ("0", "0.00"), ("12.34", "12.34"), ("1234567890.1", "1234567890.10")]
        for (copy, shown) in cases {
            #expect(try rendered(copy) { JSONText.appendPrice($0, $1, $2, $3) } as? String == shown)
        }
        #expect(try rendered(#"\N"#) { JSONText.appendPrice($0, $1, $2, $3) } is NSNull)
    }

    @Test func numbersAndBooleans() throws {
        #expect(try rendered("17") { JSONText.appendNumber($0, $1, $2, $3) } as? Int == 17)
        #expect(try rendered(#"\N"#) { JSONText.appendNumber($0, $1, $2, $3) } is NSNull)
        #expect(try rendered("t") { JSONText.appendBoolean($0, $1, $2, $3) } as? Bool == true)
        #expect(try rendered("f") { JSONText.appendBoolean($0, $1, $2, $3) } as? Bool == false)
        let out = ByteBuffer(capacity: 1)
        for v in [0, 7, 10, 2_147_483_647] {
            out.removeAll()
            out.appendDecimal(v)
            #expect(String(decoding: out.bytes, as: UTF8.self) == String(v))
        }
    }

    // MARK: DocumentRows

    /// A decoded binary COPY tuple: integers and texts.
    enum Field: Equatable, CustomStringConvertible {
        case int(Int)
        case text(String)
        var description: String {
            switch self {
            case .int(let v): "\(v)"
            case .text(let t): t
            }
        }
    }

    /// Feeds COPY text lines (one string per line, fields joined by tabs) through the
    /// transformer, in chunks of `chunk` lines, and decodes the binary COPY it writes.
    func run(_ file: CatalogFile, _ lines: [String], mode: DocumentRows.Mode = .grouped,
             products: ProductIDs? = nil, maxGroupBytes: Int = 4 << 20, chunk: Int = 2) throws -> (rows: [[Field]], transformer: DocumentRows) {
        let rows = DocumentRows(file: file, mode: mode, products: products, maxGroupBytes: maxGroupBytes)
        let out = ByteBuffer(capacity: 64)
        BinaryCopy.appendHeader(out)
        var i = 0
        while i < lines.count {
            let part = lines[i..<min(i + chunk, lines.count)].map { $0 + "\n" }.joined()
            let bytes = Array(part.utf8)
            try bytes.withUnsafeBufferPointer { try rows.consume($0, into: out) }
            i += chunk
        }
        rows.finish(into: out)
        BinaryCopy.appendTrailer(out)
        return (try decode(Array(out.bytes), file: file), rows)
    }

    func decode(_ b: [UInt8], file: CatalogFile) throws -> [[Field]] {
        let textColumns = Set(CatalogSQL.stagingColumns(file).enumerated().filter { $0.element.type == "text" }.map(\.offset))
        #expect(Array(b.prefix(11)) == [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00])
        var i = 19
        func int(_ n: Int) -> Int {
            var v = 0
            for k in 0..<n { v = v << 8 | Int(b[i + k]) }
            i += n
            return n == 2 ? Int(Int16(truncatingIfNeeded: v)) : Int(Int32(truncatingIfNeeded: v))
        }
        var tuples: [[Field]] = []
        while true {
            let count = int(2)
            if count == -1 { break }
            #expect(count == CatalogSQL.stagingColumns(file).count)
            var tuple: [Field] = []
            for c in 0..<count {
                let length = int(4)
                if textColumns.contains(c) {
                    tuple.append(.text(String(decoding: b[i..<i + length], as: UTF8.self)))
                    i += length
                } else {
                    #expect(length == 4)
                    tuple.append(.int(int(4)))
                }
            }
            tuples.append(tuple)
        }
        #expect(i == b.count)
        return tuples
    }

    func json(_ field: Field) throws -> Any {
        guard case .text(let t) = field else { throw CancellationError() }
        return try JSONSerialization.jsonObject(with: Data(t.utf8), options: [.fragmentsAllowed])
    }

    @Test func productsAndStylesArePrerenderedHeads() throws {
        let (products, t) = try run(.product, ["1\tCamo Onesie\tBlend in\t\\N\tJackets\t140", "5\tA \"B\"\ts\td\\tx\tc\t69.5"])
        #expect(products.count == 2)
        #expect(products[0][0] == .int(1))
        let list = try #require(try json(.text(products[0][1].description + "}")) as? [String: Any])
        #expect(list["id"] as? Int == 1 && list["name"] as? String == "Camo Onesie" && list["description"] is NSNull)
        #expect(list["default_price"] as? String == "140.00")
        let second = try #require(try json(.text(products[1][1].description + "}")) as? [String: Any])
        #expect(second["name"] as? String == "A \"B\"" && second["description"] as? String == "d\tx")
        #expect(second["default_price"] as? String == "69.50")
        #expect(t.productIDs.contains(1) && t.productIDs.contains(5) && !t.productIDs.contains(2))

        let (styles, _) = try run(.styles, ["1\t1\tForest Green & Black\t\\N\t140\tt", "2\t1\t\\N\t100\t140\tf"])
        #expect(styles[0][0] == .int(1) && styles[0][1] == .int(1))
        let head = try #require(try json(.text(styles[0][2].description + "[],\"skus\":{}}")) as? [String: Any])
        #expect(head["style_id"] as? Int == 1 && head["name"] as? String == "Forest Green & Black")
        #expect(head["original_price"] as? String == "140.00" && head["sale_price"] is NSNull && head["default?"] as? Bool == true)
        let second2 = try #require(try json(.text(styles[1][2].description + "[],\"skus\":{}}")) as? [String: Any])
        #expect(second2["name"] is NSNull && second2["sale_price"] as? String == "100.00" && second2["default?"] as? Bool == false)
    }

    @Test func childrenAreGroupedPerParentInIdOrder() throws {
        // Style 2's skus come 8 before 7, as in the real export's head.
        let (rows, t) = try run(.skus, ["1\t1\tXS\t8", "2\t1\tS\t\\N", "8\t2\tXS\t8", "7\t2\tS\t16", "9\t2\tM\t17", "10\t4\tL\t0"])
        #expect(t.parentsUnique)
        #expect(rows.map { [$0[0], $0[1], $0[2]] } == [[.int(1), .int(1), .int(2)], [.int(2), .int(7), .int(3)], [.int(4), .int(10), .int(1)]])
        #expect(rows[1][3] == .text(#"{"7":{"quantity":16,"size":"S"},"8":{"quantity":8,"size":"XS"},"9":{"quantity":17,"size":"M"}}"#))
        #expect(rows[0][3] == .text(#"{"1":{"quantity":8,"size":"XS"},"2":{"quantity":null,"size":"S"}}"#))

        let (photos, _) = try run(.photos, ["1\t1\thttps://u/1\thttps://t/1", "3\t1\t\\N\t\\N", "2\t1\tu\"2\tt\\\\2"], chunk: 1)
        #expect(photos.count == 1 && photos[0][1] == .int(1) && photos[0][2] == .int(3))
        let list = try #require(try json(photos[0][3]) as? [[String: Any]])
        #expect(list.count == 3)
        #expect(list[0]["url"] as? String == "https://u/1" && list[0]["thumbnail_url"] as? String == "https://t/1")
        #expect(list[1]["url"] as? String == "u\"2" && list[1]["thumbnail_url"] as? String == "t\\2")
        #expect(list[2]["url"] is NSNull && list[2]["thumbnail_url"] is NSNull)

        let (features, _) = try run(.features, ["1\t1\tFabric\tCanvas", "2\t1\tButtons\t\\N", "3\t2\tSole\tRubber"])
        #expect(features.count == 2)
        let f = try #require(try json(features[0][3]) as? [[String: Any]])
        #expect(f.count == 2 && f[0]["feature"] as? String == "Fabric" && f[0]["value"] as? String == "Canvas")
        #expect(f[1]["feature"] as? String == "Buttons" && f[1]["value"] is NSNull)
    }

    @Test func parentsOutOfOrderNeedTheRowByRowLoad() throws {
        #expect(throws: RowsOutOfOrder.self) { try run(.photos, ["1\t2\tu\tt", "2\t1\tu\tt"]) }
        #expect(throws: RowsOutOfOrder.self) { try run(.skus, ["1\t1\tS\t1", "2\t2\tS\t1", "3\t1\tS\t1"]) }
        // Row by row: one staging row per CSV row, whatever the order.
        let (rows, t) = try run(.photos, ["2\t2\tu\tt", "1\t1\tu\tt", "3\t2\tv\tw"], mode: .perRow)
        #expect(!t.parentsUnique || rows.count == 3)
        #expect(rows.map { [$0[0], $0[1], $0[2]] } == [[.int(2), .int(2), .int(1)], [.int(1), .int(1), .int(1)], [.int(2), .int(3), .int(1)]])
        #expect(rows[2][3] == .text(#"[{"thumbnail_url":"w","url":"v"}]"#))
    }

    @Test func aHugeParentIsCutIntoAscendingRuns() throws {
        let lines = (1...40).map { "\($0)\t7\thttps://example.com/\($0)\thttps://example.com/t\($0)" }
        let (rows, t) = try run(.photos, lines, maxGroupBytes: 300)
        #expect(!t.parentsUnique)
        #expect(rows.count > 1)
        #expect(rows.reduce(0) { acc, r in if case .int(let n) = r[2] { acc + n } else { acc } } == 40)
        var all: [String] = []
        for r in rows {
            let list = try #require(try json(r[3]) as? [[String: String]])
            all += list.map { $0["url"]! }
        }
        #expect(all == (1...40).map { "https://example.com/\($0)" })
        // A lower id after a run was written cannot be put back in order: row by row.
        #expect(throws: RowsOutOfOrder.self) { try run(.photos, lines + ["3\t7\tx\ty"], maxGroupBytes: 300) }
    }

    @Test func relatedRules() throws {
        var products = ProductIDs()
        for id in [1, 2, 3, 5, 8] { products.insert(id) }
        let lines = [
            "1\t1\t2", "2\t1\t3", "3\t1\t1",   // 1 → itself: dropped
            "4\t1\t0", "5\t1\t4",              // 0 and an unknown product: dropped
            "7\t1\t2", "6\t1\t8",              // 6 comes before 7: 8 kept, the second 2 dropped
            "8\t4\t1",                         // product 4 is not loaded: orphan
            "9\t5\t1", "10\t5\t1",             // a repeated pair
        ]
        let (rows, t) = try run(.related, lines, products: products)
        #expect(t.orphaned == 1)
        #expect(t.dropped == 5)
        #expect(rows.map { [$0[0], $0[1], $0[2], $0[3]] } == [
            [.int(1), .int(1), .int(3), .text("[2,3,8]")],
            [.int(5), .int(9), .int(1), .text("[1]")],
        ])
        // Row by row, the repeated pairs are left to SQL.
        let (perRow, t2) = try run(.related, lines, mode: .perRow, products: products)
        #expect(t2.orphaned == 1 && t2.dropped == 3)
        #expect(perRow.count == 6)
        #expect(perRow.map { $0[3] } == ["[2]", "[3]", "[2]", "[8]", "[1]", "[1]"].map { .text($0) })
    }
}
