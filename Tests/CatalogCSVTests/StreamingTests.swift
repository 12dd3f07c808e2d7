import Testing
import CatalogCSV

/// A file that exercises every path: quotes, multi-line fields, repairs, rejects, CRLF, blanks.
private let mixedBody: String = {
    var rows: [String] = []
    for i in 1...300 {
        switch i % 10 {
        case 0: rows.append("\(i),\(i),\"https://x/\(i)\",\"https://y/\(i)")            // unclosed quote
        case 1: rows.append("\(i),\(i),https://x/\(i)\",\"https://y/\(i)\"")            // stray quote
        case 2: rows.append("\(i),\(i),\"multi\nline \(i)\",\"with \"\"quotes\"\"\"")
        case 3: rows.append("\(i),x,a,b")                                                // reject
        case 4: rows.append("\(i),\(i),\"tab\there\",\"crlf\"\r")
        case 5: rows.append("")
        case 6: rows.append("\(i - 2),1,dup,dup")                                        // duplicate id
        default: rows.append("\(i),\(i),\"https://images.example/\(i)?w=668&q=80\",\"https://images.example/\(i)?w=300\"")
        }
    }
    return rows.joined(separator: "\n") + "\n"
}()

@Suite struct StreamingTests {
    @Test func tinyBuffersGiveTheSameResult() throws {
        let reference = try convert(.photos, mixedBody)
        #expect(reference.stats.rejected == 60)
        #expect(reference.rejects.filter { $0.reason.hasPrefix("duplicate id") }.count == 30)
        #expect(reference.stats.repaired == 60)
        #expect(reference.stats.rowsRead == 270)
        for bufferSize in [64, 100, 257, 4096] {
            for minimumBytes in [1, 500, 1 << 20] {
                let c = try convert(.photos, mixedBody, bufferSize: bufferSize, minimumBytes: minimumBytes)
                #expect(c.output == reference.output, "buffer \(bufferSize) minimum \(minimumBytes)")
                #expect(c.rejects.map(\.line) == reference.rejects.map(\.line))
                #expect(c.rejects.map(\.raw) == reference.rejects.map(\.raw))
                #expect(c.stats.rowsRead == reference.stats.rowsRead)
                #expect(c.stats.repaired == reference.stats.repaired)
            }
        }
    }

    @Test func batchesRespectMinimumBytes() throws {
        let c = try convert(.photos, mixedBody, minimumBytes: 1000)
        #expect(c.batches > 5)
    }

    @Test func statsAddUp() throws {
        let c = try convert(.photos, mixedBody)
        #expect(c.stats.rowsRead == c.stats.rowsAccepted + c.stats.rejected)
        #expect(c.stats.rowsAccepted == c.lines.count)
        #expect(c.rejects.count == c.stats.rejected)
    }

    @Test func recordBiggerThanTheReadBuffer() throws {
        let description = String(repeating: "Big \"\"quoted\"\", commas, and\nline breaks. ", count: 120_000) // ~5.5 MB
        let body = "1,\"Name\",\"Slogan\",\"\(description)\",\"Cat\",10\n2,\"n\",\"s\",\"d\",\"c\",20\n"
        #expect(body.utf8.count > CopyTextConverter.defaultBufferSize)
        let c = try convert(.product, body)
        #expect(c.rejects.isEmpty)
        #expect(c.lines.count == 2)
        let expected = String(repeating: "Big \"quoted\", commas, and\\nline breaks. ", count: 120_000)
        #expect(c.lines.first == "1\tName\tSlogan\t\(expected)\tCat\t10")
        #expect(c.lines.last == "2\tn\ts\td\tc\t20")
        let small = try convert(.product, body, bufferSize: 1024)
        #expect(small.output == c.output)
    }

    @Test func recordLongerThanTheLimitIsRejectedAndSkipped() throws {
        let long = String(repeating: "x", count: 5000)
        let body = "1,1,a,b\n2,1,\"\(long)\nstill inside\n\",b\n3,1,c,d\n4,1,\"\(long)\"\n5,1,e,f"
        let c = try convert(.features, Array(body.utf8), bufferSize: 256, maxRecordBytes: 1024)
        #expect(reasons(c) == ["3: record longer than 1024 bytes", "7: record longer than 1024 bytes"])
        #expect(c.rejects[0].raw.count <= 1024)
        #expect(c.lines == ["1\t1\ta\tb", "3\t1\tc\td", "5\t1\te\tf"])
        #expect(c.stats.rowsRead == 5)
        // The limit holds whatever the read buffer size.
        let big = try convert(.features, Array(body.utf8), maxRecordBytes: 1024)
        #expect(big.output == c.output)
        #expect(reasons(big) == reasons(c))
    }
}
