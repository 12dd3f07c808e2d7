import Testing
import CatalogCSV

/// Real head rows of the export (samples/atelier-head).
enum Head {
    static let product1 = #"1,"Camo Onesie","Blend in to your crowd","The So Fatigues will wake you up and fit you in. This high energy camo will have you blending in to even the wildest surroundings.","Jackets",140"#
    static let product2 = #"2,"Bright Future Sunglasses","You've got to wear shades","Where you're going you might not need roads, but you definitely need some shades. Give those baby blues a rest and let the future shine bright on these timeless lenses.","Accessories",69"#
    static let photoURL = "https://images.unsplash.com/photo-1501088430049-71c79fa3283e?ixlib=rb-1.2.1&ixid=eyJhcHBfaWQiOjEyMDd9&auto=format&fit=crop&w=668&q=80"
    static let photoThumb = "https://images.unsplash.com/photo-1501088430049-71c79fa3283e?ixlib=rb-1.2.1&ixid=eyJhcHBfaWQiOjEyMDd9&auto=format&fit=crop&w=300&q=80"
    static let photo1 = "1,1,\"\(photoURL)\",\"\(photoThumb)\""
    static let style1 = #"1,1,"Forest Green & Black",null,140,1"#
    static let style3 = #"3,1,"Ocean Blue & Grey",100,140,0"#
    static let sku1 = #"1,1,"XS",8"#
    static let feature4 = #"4,2,"UV Protection",null"#
    static let related1 = "1,1,2"
}

@Suite struct DialectTests {
    @Test func productRowFromTheRealHead() throws {
        let c = try convert(.product, Head.product1 + "\n" + Head.product2 + "\n")
        #expect(c.rejects.isEmpty)
        #expect(c.lines == [
            "1\tCamo Onesie\tBlend in to your crowd\tThe So Fatigues will wake you up and fit you in. This high energy camo will have you blending in to even the wildest surroundings.\tJackets\t140",
            "2\tBright Future Sunglasses\tYou've got to wear shades\tWhere you're going you might not need roads, but you definitely need some shades. Give those baby blues a rest and let the future shine bright on these timeless lenses.\tAccessories\t69",
        ])
        #expect(c.stats == FileStats(bytesRead: c.stats.bytesRead, rowsRead: 2, rowsAccepted: 2, repaired: 0, rejected: 0))
    }

    @Test func photoRowFromTheRealHead() throws {
        let c = try convert(.photos, Head.photo1 + "\n")
        #expect(c.lines == ["1\t1\t\(Head.photoURL)\t\(Head.photoThumb)"])
    }

    @Test func otherFilesFromTheRealHead() throws {
        #expect(try convert(.styles, Head.style1 + "\n" + Head.style3 + "\n").lines
                == ["1\t1\tForest Green & Black\t\\N\t140\tt", "3\t1\tOcean Blue & Grey\t100\t140\tf"])
        #expect(try convert(.skus, Head.sku1 + "\n").lines == ["1\t1\tXS\t8"])
        #expect(try convert(.features, Head.feature4 + "\n").lines == ["4\t2\tUV Protection\t\\N"])
        #expect(try convert(.related, Head.related1 + "\n").lines == ["1\t1\t2"])
    }

    @Test func quotedFieldsHoldQuotesCommasAndLineBreaks() throws {
        let c = try convert(.features, "1,2,\"Say \"\"hi\"\", then go\",\"line one\nline two\"\n2,2,\"\",\"\"\"\"\n")
        #expect(c.rejects.isEmpty)
        #expect(c.lines == ["1\t2\tSay \"hi\", then go\tline one\\nline two", "2\t2\t\t\""])
    }

    @Test func crlfLineEndsAndHeader() throws {
        let body = Array("id,product_id,feature,value\r\n1,2,\"a\",b\r\n2,2,c,\"multi\r\nline\"\r\n3,2,d,\r\n".utf8)
        let c = try convert(.features, body, withHeader: false)
        #expect(c.rejects.isEmpty)
        #expect(c.lines == ["1\t2\ta\tb", "2\t2\tc\tmulti\\r\\nline", "3\t2\td\t\\N"])
    }

    @Test func loneCarriageReturnInsideQuotesIsData() throws {
        let c = try convert(.features, "1,2,\"a\rb\",c\n")
        #expect(c.lines == ["1\t2\ta\\rb\tc"])
    }

    @Test func byteOrderMarkBeforeHeader() throws {
        let body = [0xEF, 0xBB, 0xBF] + Array("id,current_product_id,related_product_id\n1,1,2\n".utf8)
        let c = try convert(.related, body, withHeader: false)
        #expect(c.lines == ["1\t1\t2"])
    }

    @Test func lastLineWithoutNewline() throws {
        #expect(try convert(.related, "1,1,2\n2,1,3").lines == ["1\t1\t2", "2\t1\t3"])
        #expect(try convert(.features, "1,1,a,\"quoted at the end\"").lines == ["1\t1\ta\tquoted at the end"])
        #expect(try convert(.features, "1,1,a,\"b\"\r").lines == ["1\t1\ta\tb"])
    }

    @Test func blankLinesAreNotRecords() throws {
        let c = try convert(.related, "1,1,2\n\n2,1,3\r\n\r\n\n")
        #expect(c.lines == ["1\t1\t2", "2\t1\t3"])
        #expect(c.stats.rowsRead == 2)
        let d = try convert(.related, "\n\nx,1,2\n")
        #expect(reasons(d) == ["4: id is not an integer"])
    }

    @Test func headerOnly() throws {
        for body in ["", "\n", "\r\n\n"] {
            let c = try convert(.skus, body)
            #expect(c.output.isEmpty)
            #expect(c.stats.rowsRead == 0)
        }
        let noNewline = try convert(.skus, Array("id,styleId,size,quantity".utf8), withHeader: false)
        #expect(noNewline.output.isEmpty)
    }

    @Test func nullHandling() throws {
        let c = try convert(.features, "1,2,null,\n2,2,\"null\",\"\"\n3,2,NULL,nullish\n")
        #expect(c.lines == ["1\t2\t\\N\t\\N", "2\t2\tnull\t", "3\t2\tNULL\tnullish"])
    }

    @Test func copyEscaping() throws {
        let c = try convert(.features, "1,2,\"tab\there\",\"back\\slash \\N\"\n2,2,\"new\nline\",\"cr\r\nlf\"\n")
        #expect(c.lines == ["1\t2\ttab\\there\tback\\\\slash \\\\N", "2\t2\tnew\\nline\tcr\\r\\nlf"])
    }

    @Test func utf8TextPassesThrough() throws {
        let c = try convert(.features, "1,2,\"Façade\",\"🧥 “Camo” — ½\"\n")
        #expect(c.lines == ["1\t2\tFaçade\t🧥 “Camo” — ½"])
    }

    @Test func recordsSpanningLinesKeepTheirStartLine() throws {
        let c = try convert(.features, "1,2,\"a\nb\nc\",d\nx,2,e,f\n3,2,\"g\r\nh\",i\n4,2,j\n")
        #expect(reasons(c) == ["5: id is not an integer", "8: wrong number of fields (3, expected 4)"])
        #expect(c.rejects.map(\.raw) == [Array("x,2,e,f".utf8), Array("4,2,j".utf8)])
        let d = try convert(.features, "1,2,\"a\nb\"\r\n2,2,ok,ok\n")
        #expect(d.rejects.first?.raw == Array("1,2,\"a\nb\"".utf8))
        #expect(d.rejects.first?.line == 2)
    }

    @Test func quotedNumbersAndLeadingZeros() throws {
        let c = try convert(.skus, "\"7\",007,\"M\",\"0012\"\n8,0,S,0\n")
        #expect(c.lines == ["7\t7\tM\t12", "8\t0\tS\t0"])
    }

    @Test func booleans() throws {
        let body = ["1,1,a,1,2,TRUE", "2,1,a,1,2,False", "3,1,a,1,2,", "4,1,a,1,2,null", "5,1,a,1,2,\"1\"", "6,1,a,1,2,0"]
        let c = try convert(.styles, body.joined(separator: "\n"))
        #expect(c.lines.map { $0.split(separator: "\t").last.map(String.init) ?? "" } == ["t", "f", "f", "f", "t", "f"])
    }

    @Test func priceNormalization() throws {
        let body = ["1,1,a,069.50,140.00,0", "2,1,a,.5,5.,0", "3,1,a,null,500000000,0", "4,1,a,,9999999999.99,0", "5,1,a,0,0.10,0"]
        let c = try convert(.styles, body.joined(separator: "\n"))
        #expect(c.rejects.isEmpty)
        #expect(c.lines.map { $0.split(separator: "\t")[3...4].joined(separator: " ") }
                == ["69.5 140", "0.5 5", "\\N 500000000", "\\N 9999999999.99", "0 0.1"])
    }
}

@Suite struct SpacingTests {
    /// Real rows from samples/atelier-head/skus.csv.
    @Test func spaceBeforeAQuantityInTheRealHead() throws {
        let c = try convert(.skus, "135,26,\"11\", 11\n136,26,\"12\",11\n")
        #expect(c.rejects.isEmpty)
        #expect(c.lines == ["135\t26\t11\t11", "136\t26\t12\t11"])
    }

    @Test func spacesAroundQuotedFieldsAreIgnored() throws {
        let c = try convert(.features, "1,2, \"a, b\" ,  \"c\"  \n2,2, \"x\"y,z\n")
        #expect(c.lines == ["1\t2\ta, b\tc"])
        #expect(reasons(c) == ["3: text after closing quote in field 3"])
    }

    @Test func spacesInUnquotedTextAreData() throws {
        let c = try convert(.features, "1,2,  padded ,null \n")
        #expect(c.lines == ["1\t2\t  padded \tnull "])
    }

    @Test func spacesAroundNumbersAndBooleans() throws {
        let c = try convert(.styles, " 1 , 2 ,a, 69.5 , null , true \n")
        #expect(c.lines == ["1\t2\ta\t69.5\t\\N\tt"])
        let q = try convert(.skus, "1,1,M, \n2,1,M,\" 7 \"\n")
        #expect(c.rejects.isEmpty && q.rejects.isEmpty)
        #expect(q.lines == ["1\t1\tM\t\\N", "2\t1\tM\t7"])
    }
}
