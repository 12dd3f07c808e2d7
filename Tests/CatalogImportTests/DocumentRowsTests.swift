@testable import CatalogImport
import CatalogCSV
import Foundation
import Testing

/// The JSON pieces the importer renders while loading (no database): what `DocumentRows`
/// makes of the records `RecordReader` accepts from CSV text, decoded back from binary COPY.
@Suite("JSON pieces rendered while loading")
struct DocumentRowsTests {
    // MARK: JSONText

    /// Reads `csv` (the records after the header) from a temporary file of `file`'s kind.
    static func records(_ file: CatalogFile, _ csv: String, _ body: (CSVRecord) throws -> Void) throws {
        let path = NSTemporaryDirectory() + "rows-\(UInt32.random(in: 0...UInt32.max)).csv"
        try (file.header + "\n" + csv).write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let reader = try RecordReader(file: file, path: path)
        var failure: (any Error)?
        _ = try reader.read(onReject: { Issue.record("rejected: \($0.reason)") }) { record in
            do { try body(record) } catch { failure = error }
            return true
        }
        if let failure { throw failure }
    }

    /// Renders field `column` of a features.csv record `1,1,<feature>,<value>` with `body`
    /// and parses the result as JSON.
    func rendered(_ field: String, column: Int = 2, as file: CatalogFile = .features,
                  _ body: (ByteBuffer, CSVRecord) -> Void) throws -> Any {
        let line: String
        switch file {
        case .skus: line = "1,1,\"S\",\(field)"          // quantity
        case .styles: line = "1,1,\"n\",null,1,\(field)"  // default_style
        case .product: line = "1,\"n\",\"s\",\"d\",\"c\",\(field)"
        default: line = "1,1,\(field),\"v\""
        }
        let out = ByteBuffer(capacity: 16)
        try Self.records(file, line + "\n") { body(out, $0) }
        let data = Data(UnsafeRawBufferPointer(start: out.base, count: out.count))
        return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }

    @Test func stringsAreEscapedForJSONAndUnquotedFromCSV() throws {
        let cases: [(csv: String, text: String)] = [
            ("plain", "plain"),
            (#""""#, ""),
            (#""say ""hi""""#, #"say "hi""#),
            (#"un"quoted"#, #"un"quoted"#),  // a quote inside an unquoted field is data
            (#""back\slash""#, #"back\slash"#),
            ("\"tab\there\"", "tab\there"),
            ("\"two\nlines\r\n\"", "two\nlines\r\n"),
            ("\"bell\u{07}and\u{1F}unit\"", "bell\u{07}and\u{1F}unit"),
            ("\"ünïcødé – 🧥\"", "ünïcødé – 🧥"),
            (#""\N""#, #"\N"#),
            (#""null""#, "null"),  // quoted: the text null
            (#""""quoted"" \ ""#, #""quoted" \ "#),
        ]
        for c in cases {
            let value = try rendered(c.csv) { JSONText.appendString($0, $1.base, $1[2]) }
            #expect(value as? String == c.text, "\(c.csv)")
        }
        #expect(try rendered("null") { JSONText.appendString($0, $1.base, $1[2]) } is NSNull)
        #expect(try rendered("") { JSONText.appendString($0, $1.base, $1[2]) } is NSNull)
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
        let cases = [("140", "140.00"), ("69.5", "69.50"), ("0.5", "0.50"), (".5", "0.50"), ("0", "0.00"), ("12.34", "12.34"),
                     ("069.50", "69.50"), ("140.00", "140.00"), ("1234567890.1", "1234567890.10"), ("9999999999.99", "9999999999.99")]
        for (csv, shown) in cases {
            #expect(try rendered(csv, as: .product) { JSONText.appendPrice($0, $1[5]) } as? String == shown, "\(csv)")
        }
        #expect(try rendered("null", as: .product) { JSONText.appendPrice($0, $1[5]) } is NSNull)
    }

    @Test func numbersAndBooleans() throws {
        #expect(try rendered("17", as: .skus) { JSONText.appendNumber($0, $1[3]) } as? Int == 17)
        #expect(try rendered("007", as: .skus) { JSONText.appendNumber($0, $1[3]) } as? Int == 7)
        #expect(try rendered("null", as: .skus) { JSONText.appendNumber($0, $1[3]) } is NSNull)
        #expect(try rendered("true", as: .styles) { JSONText.appendBoolean($0, $1[5]) } as? Bool == true)
        #expect(try rendered("0", as: .styles) { JSONText.appendBoolean($0, $1[5]) } as? Bool == false)
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

    /// Feeds CSV records (one string per record, without the header) through the transformer
    /// in batches of about `chunk` output bytes, and decodes the binary COPY it writes.
    func run(_ file: CatalogFile, _ lines: [String], mode: DocumentRows.Mode = .grouped,
             products: ProductIDs? = nil, maxGroupBytes: Int = 4 << 20, chunk: Int = 2) throws -> (rows: [[Field]], transformer: DocumentRows) {
        let path = NSTemporaryDirectory() + "rows-\(UInt32.random(in: 0...UInt32.max)).csv"
        try ([file.header] + lines).map { $0 + "\n" }.joined().write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let reader = try RecordReader(file: file, path: path)
        let rows = DocumentRows(file: file, mode: mode, products: products, maxGroupBytes: maxGroupBytes)
        let out = ByteBuffer(capacity: 64)
        BinaryCopy.appendHeader(out)
        var batchStart = out.count
        while try rows.read(reader, into: out, until: { $0.count - batchStart >= chunk }, onReject: { Issue.record("rejected: \($0.reason)") }) {
            batchStart = out.count
        }
        BinaryCopy.appendTrailer(out)
        return (try decode(Array(out.bytes), file: file), rows)
    }

    func decode(_ b: [UInt8], file: CatalogFile) throws -> [[Field]] {
        try Self.decode(b, columns: CatalogSQL.stagingColumns(file))
    }

    /// Decodes binary COPY data of integer and text columns.
    static func decode(_ b: [UInt8], columns: [(name: String, type: String)]) throws -> [[Field]] {
        let textColumns = Set(columns.enumerated().filter { $0.element.type == "text" }.map(\.offset))
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
            #expect(count == columns.count)
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
        let (products, t) = try run(.product, [#"1,"Camo Onesie","Blend in",null,"Jackets",140"#, "5,\"A \"\"B\"\"\",s,\"d\tx\",c,69.50"])
        #expect(products.count == 2)
        #expect(products[0][0] == .int(1))
        let list = try #require(try json(.text(products[0][1].description + "}")) as? [String: Any])
        #expect(list["id"] as? Int == 1 && list["name"] as? String == "Camo Onesie" && list["description"] is NSNull)
        #expect(list["default_price"] as? String == "140.00")
        let second = try #require(try json(.text(products[1][1].description + "}")) as? [String: Any])
        #expect(second["name"] as? String == "A \"B\"" && second["description"] as? String == "d\tx")
        #expect(second["default_price"] as? String == "69.50")
        #expect(t.productIDs.contains(1) && t.productIDs.contains(5) && !t.productIDs.contains(2))

        let (styles, _) = try run(.styles, [#"1,1,"Forest Green & Black",null,140,1"#, "2,1,null,100,140.00,0"])
        #expect(styles[0][0] == .int(1) && styles[0][1] == .int(1))
        let head = try #require(try json(.text(styles[0][2].description + "[],\"skus\":{}}")) as? [String: Any])
        #expect(head["style_id"] as? Int == 1 && head["name"] as? String == "Forest Green & Black")
        #expect(head["original_price"] as? String == "140.00" && head["sale_price"] is NSNull && head["default?"] as? Bool == true)
        let second2 = try #require(try json(.text(styles[1][2].description + "[],\"skus\":{}}")) as? [String: Any])
        #expect(second2["name"] is NSNull && second2["sale_price"] as? String == "100.00" && second2["default?"] as? Bool == false)
    }

    @Test func childrenAreGroupedPerParentInIdOrder() throws {
        // Style 2's skus come 8 before 7, as in the real export's head.
        let (rows, t) = try run(.skus, [#"1,1,"XS",8"#, #"2,1,"S",null"#, #"8,2,"XS",8"#, #"7,2,"S",16"#, #"9,2,"M",17"#, #"10,4,"L",0"#])
        #expect(t.parentsUnique)
        #expect(rows.map { [$0[0], $0[1], $0[2]] } == [[.int(1), .int(1), .int(2)], [.int(2), .int(7), .int(3)], [.int(4), .int(10), .int(1)]])
        #expect(rows[1][3] == .text(#"{"7":{"quantity":16,"size":"S"},"8":{"quantity":8,"size":"XS"},"9":{"quantity":17,"size":"M"}}"#))
        #expect(rows[0][3] == .text(#"{"1":{"quantity":8,"size":"XS"},"2":{"quantity":null,"size":"S"}}"#))

        let (photos, _) = try run(.photos, ["1,1,https://u/1,https://t/1", "3,1,null,null", #"2,1,"u""2","t\2""#], chunk: 1)
        #expect(photos.count == 1 && photos[0][1] == .int(1) && photos[0][2] == .int(3))
        let list = try #require(try json(photos[0][3]) as? [[String: Any]])
        #expect(list.count == 3)
        #expect(list[0]["url"] as? String == "https://u/1" && list[0]["thumbnail_url"] as? String == "https://t/1")
        #expect(list[1]["url"] as? String == "u\"2" && list[1]["thumbnail_url"] as? String == "t\\2")
        #expect(list[2]["url"] is NSNull && list[2]["thumbnail_url"] is NSNull)

        let (features, _) = try run(.features, [#"1,1,"Fabric","Canvas""#, #"2,1,"Buttons",null"#, #"3,2,"Sole","Rubber""#])
        #expect(features.count == 2)
        let f = try #require(try json(features[0][3]) as? [[String: Any]])
        #expect(f.count == 2 && f[0]["feature"] as? String == "Fabric" && f[0]["value"] as? String == "Canvas")
        #expect(f[1]["feature"] as? String == "Buttons" && f[1]["value"] is NSNull)
    }

    @Test func parentsOutOfOrderNeedTheRowByRowLoad() throws {
        #expect(throws: RowsOutOfOrder.self) { try run(.photos, ["1,2,u,t", "2,1,u,t"]) }
        #expect(throws: RowsOutOfOrder.self) { try run(.skus, ["1,1,S,1", "2,2,S,1", "3,1,S,1"]) }
        // Row by row: one staging row per CSV row, whatever the order.
        let (rows, t) = try run(.photos, ["2,2,u,t", "1,1,u,t", "3,2,v,w"], mode: .perRow)
        #expect(!t.parentsUnique || rows.count == 3)
        #expect(rows.map { [$0[0], $0[1], $0[2]] } == [[.int(2), .int(2), .int(1)], [.int(1), .int(1), .int(1)], [.int(2), .int(3), .int(1)]])
        #expect(rows[2][3] == .text(#"[{"thumbnail_url":"w","url":"v"}]"#))
    }

    @Test func aHugeParentIsCutIntoAscendingRuns() throws {
        let lines = (1...40).map { "\($0),7,https://example.com/\($0),https://example.com/t\($0)" }
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
        #expect(throws: RowsOutOfOrder.self) { try run(.photos, lines.dropFirst() + ["1,7,x,y"], maxGroupBytes: 300) }
    }

    @Test func relatedRules() throws {
        var products = ProductIDs()
        for id in [1, 2, 3, 5, 8] { products.insert(id) }
        let lines = [
            "1,1,2", "2,1,3", "3,1,1",   // 1 → itself: dropped
            "4,1,0", "5,1,4",            // 0 and an unknown product: dropped
            "7,1,2", "6,1,8",            // 6 comes before 7: 8 kept, the second 2 dropped
            "8,4,1",                     // product 4 is not loaded: orphan
            "9,5,1", "10,5,1",           // a repeated pair
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
