import Testing
import CatalogCSV

@Suite struct RepairTests {
    @Test func unclosedQuoteClosedWhenNextLineStartsARecord() throws {
        let c = try convert(.photos, "1,1,\"https://x.jpg\",\"https://y.jpg\n2,1,\"https://z.jpg\",\"https://w.jpg\"\n")
        #expect(c.rejects.isEmpty)
        #expect(c.lines == ["1\t1\thttps://x.jpg\thttps://y.jpg", "2\t1\thttps://z.jpg\thttps://w.jpg"])
        #expect(c.stats.repaired == 1)
        #expect(c.stats.rowsAccepted == 2)
    }

    @Test func unclosedQuoteWithCRLF() throws {
        let c = try convert(.photos, "1,1,\"a\",\"b\r\n2,1,\"c\",\"d\"\r\n")
        #expect(c.lines == ["1\t1\ta\tb", "2\t1\tc\td"])
        #expect(c.stats.repaired == 1)
    }

    @Test func unclosedQuoteClosedAtEndOfFile() throws {
        for tail in ["", "\n", "\r\n", "\n\n\r\n"] {
            let c = try convert(.photos, "1,1,\"a\",\"b\"\n2,1,\"c\",\"d" + tail)
            #expect(c.lines == ["1\t1\ta\tb", "2\t1\tc\td"], "tail \(tail.debugDescription)")
            #expect(c.stats.repaired == 1)
        }
    }

    @Test func unclosedQuoteBeforeATextLineIsAMultiLineField() throws {
        // The next line does not start like a record, so the line break is data (plain CSV).
        let c = try convert(.features, "1,2,\"first\n12 is not a record start\nlast\",v\n2,2,a,b\n")
        #expect(c.lines == ["1\t2\tfirst\\n12 is not a record start\\nlast\tv", "2\t2\ta\tb"])
        #expect(c.stats.repaired == 0)
    }

    @Test func unclosedMultiLineFieldClosedAtEndOfFile() throws {
        let c = try convert(.features, "1,2,a,\"first\nsecond")
        #expect(c.lines == ["1\t2\ta\tfirst\\nsecond"])
        #expect(c.stats.repaired == 1)
    }

    @Test func strayClosingQuote() throws {
        let body = """
            2,1,https://x.jpg","https://y.jpg"
            3,1,"https://x.jpg",https://y.jpg"
            4,1,https://x.jpg",https://y.jpg"\r
            5,1,https://x"y.jpg,z

            """
        let c = try convert(.photos, body)
        #expect(c.rejects.isEmpty)
        #expect(c.lines == [
            "2\t1\thttps://x.jpg\thttps://y.jpg",
            "3\t1\thttps://x.jpg\thttps://y.jpg",
            "4\t1\thttps://x.jpg\thttps://y.jpg",
            "5\t1\thttps://x\"y.jpg\tz",  // a quote inside an unquoted field is data, not a repair
        ])
        #expect(c.stats.repaired == 3)
    }

    @Test func repairedRowThatIsOtherwiseBadIsRejectedNotRepaired() throws {
        let c = try convert(.photos, "x,1,\"a\",\"b\n2,1,c\",d\n")
        #expect(reasons(c) == ["2: id is not an integer"])
        #expect(c.stats.repaired == 1)
        #expect(c.stats.rowsAccepted == 1)
    }

    @Test func unclosedQuoteInAMiddleFieldLeavesTooFewFields() throws {
        let c = try convert(.photos, "1,1,\"https://x.jpg,https://y.jpg\n2,1,a,b\n")
        #expect(reasons(c) == ["2: wrong number of fields (3, expected 4)"])
        #expect(c.lines == ["2\t1\ta\tb"])
    }
}
