import Testing
import CatalogCSV

@Suite struct RejectTests {
    @Test func wrongNumberOfFields() throws {
        let c = try convert(.styles, "1,1,a,null,140\n2,1,a,null,140,0,extra\n3,1,\"a,b\",null,140,0\n")
        #expect(reasons(c) == ["2: wrong number of fields (5, expected 6)", "3: wrong number of fields (7, expected 6)"])
        #expect(c.lines == ["3\t1\ta,b\t\\N\t140\tf"])
    }

    @Test func badIds() throws {
        let body = ["x,1,2", "0,1,2", "2147483648,1,2", "-1,1,2", ",1,2", "null,1,2", "\"\",1,2", " 5\t,1,2", "99999999999999999999999,1,2", "2147483647,1,2"]
        let c = try convert(.related, body.joined(separator: "\n"))
        #expect(reasons(c) == [
            "2: id is not an integer", "3: id is out of range", "4: id is out of range", "5: id is not an integer",
            "6: id is missing", "7: id is missing", "8: id is not an integer",
            "10: id is out of range",
        ])
        #expect(c.lines == ["5\t1\t2", "2147483647\t1\t2"])
    }

    @Test func badReferences() throws {
        let c = try convert(.related, "1,1.5,2\n2,1,\n3,0,0\n4,2147483648,1\n")
        #expect(reasons(c) == ["2: current_product_id is not an integer", "3: related_product_id is missing",
                               "5: current_product_id is out of range"])
        #expect(c.lines == ["3\t0\t0"])
        let s = try convert(.skus, "1,abc,M,3\n")
        #expect(reasons(s) == ["2: style_id is not an integer"])
    }

    @Test func badPrices() throws {
        let body = ["1,1,a,1e5,1,0", "2,1,a,\"1,000\",1,0", "3,1,a,12.345,1,0", "4,1,a,-5,1,0", "5,1,a,12345678901,1,0",
                    "6,1,a,\"null\",1,0", "7,1,a,1,$5,0", "8,1,a,1,.,0", "9,1,a,1,12.340,0"]
        let c = try convert(.styles, body.joined(separator: "\n"))
        #expect(reasons(c) == [
            "2: sale_price is not a number", "3: sale_price is not a number", "4: sale_price has more than 2 decimals",
            "5: sale_price is negative", "6: sale_price is too large", "7: sale_price is not a number",
            "8: original_price is not a number", "9: original_price is not a number",
        ])
        #expect(c.lines == ["9\t1\ta\t1\t12.34\tf"])
        let p = try convert(.product, "1,a,b,c,d,forty\n")
        #expect(reasons(p) == ["2: default_price is not a number"])
    }

    @Test func badQuantities() throws {
        let c = try convert(.skus, "1,1,M,many\n2,1,M,-3\n3,1,M,\n4,1,M,null\n5,1,M,3.0\n6,1,M,99999999999\n7,1,M,-\n")
        #expect(reasons(c) == ["2: quantity is not an integer", "3: quantity is negative", "6: quantity is not an integer",
                               "7: quantity is out of range", "8: quantity is not an integer"])
        #expect(c.lines == ["3\t1\tM\t\\N", "4\t1\tM\t\\N"])
    }

    @Test func badBoolean() throws {
        let c = try convert(.styles, "1,1,a,1,2,yes\n2,1,a,1,2,\"null\"\n3,1,a,1,2,2\n")
        #expect(reasons(c) == ["2: default_style is not a boolean", "3: default_style is not a boolean",
                               "4: default_style is not a boolean"])
    }

    @Test func invalidUTF8() throws {
        let rows: [[UInt8]] = [
            Array("1,1,\"bad ".utf8) + [0xFF] + Array("\",x\n".utf8),
            Array("2,1,".utf8) + [0xC0, 0x80] + Array(",x\n".utf8),          // overlong NUL
            Array("3,1,".utf8) + [0xED, 0xA0, 0x80] + Array(",x\n".utf8),    // surrogate
            Array("4,1,".utf8) + [0xE2, 0x82] + Array(",x\n".utf8),          // truncated
            Array("5,1,".utf8) + [0xF4, 0x90, 0x80, 0x80] + Array(",x\n".utf8), // above U+10FFFF
            Array("6,1,".utf8) + [0xC3, 0xA9] + Array(",x\n".utf8),          // é
        ]
        let c = try convert(.features, rows.flatMap { $0 })
        #expect(reasons(c) == (2...6).map { "\($0): not valid UTF-8" })
        #expect(c.rejects[0].raw == Array(rows[0].dropLast()))
        #expect(c.lines == ["6\t1\té\tx"])
    }

    @Test func nulByte() throws {
        let c = try convert(.features, Array("1,1,a".utf8) + [0] + Array("b,c\n2,1,a,b\n".utf8))
        #expect(reasons(c) == ["2: NUL byte"])
        #expect(c.lines == ["2\t1\ta\tb"])
    }

    @Test func duplicateIdFirstWins() throws {
        let c = try convert(.related, "17,1,2\n18,1,3\n17,9,9\nx,1,1\n18,1,1\n")
        #expect(reasons(c) == ["4: duplicate id 17", "5: id is not an integer", "6: duplicate id 18"])
        #expect(c.lines == ["17\t1\t2", "18\t1\t3"])
    }

    @Test func aRejectedRowDoesNotClaimItsId() throws {
        let c = try convert(.skus, "5,1,M,lots\n5,1,M,4\n")
        #expect(reasons(c) == ["2: quantity is not an integer"])
        #expect(c.lines == ["5\t1\tM\t4"])
    }

    @Test func duplicatesAcrossTheWholeIdRange() throws {
        let ids = [1, 65535, 65536, 65537, 1_000_011, 26_961_740, 2_147_483_647, 1_000_011, 65536, 2_147_483_647]
        let c = try convert(.related, ids.map { "\($0),1,2" }.joined(separator: "\n"))
        #expect(c.stats.rowsAccepted == 7)
        #expect(reasons(c) == ["9: duplicate id 1000011", "10: duplicate id 65536", "11: duplicate id 2147483647"])
    }

    @Test func textAfterClosingQuote() throws {
        let c = try convert(.features, "1,1,\"abc\"def,x\n2,1,a,\"b\"c\n3,1,\"ok\",\"ok\"\n")
        #expect(reasons(c) == ["2: text after closing quote in field 3", "3: text after closing quote in field 4"])
        #expect(c.lines == ["3\t1\tok\tok"])
    }

    @Test func reasonOrderPrefersStructure() throws {
        // Both a bad id and a wrong field count: the field count is reported.
        let c = try convert(.related, "x,1\n")
        #expect(reasons(c) == ["2: wrong number of fields (2, expected 3)"])
    }
}
