import Foundation
import Testing
import CatalogCSV

/// `RecordReader`'s own interface: the checked values it hands over, batches, and `rewind`
/// (the COPY text tests in the other suites go through `CopyTextConverter`, which is built on it).
struct RecordReaderTests {
    @Test func valuesAreCheckedAndNormalized() throws {
        let dir = TempDir()
        let lines = [
            #"007,3, "Forest ""Green""" ,069.50,140,TRUE"#,
            "8,3,null,,.5,",
            #"9,4,"",null, 12.3 ,0"#,
        ]
        let path = dir.write("styles.csv", Array(([CatalogFile.styles.header] + lines).map { $0 + "\n" }.joined().utf8))
        let reader = try RecordReader(file: .styles, path: path)
        var seen: [(id: Int, product: Int, name: String?, sale: Int?, original: Int?, isDefault: Bool, line: Int)] = []
        _ = try reader.read(onReject: { Issue.record("rejected: \($0.reason)") }) { r in
            seen.append((r.int(0), r.int(1), r.text(2), r[3].isNull ? nil : r[3].value,
                         r[4].isNull ? nil : r[4].value, r[5].value == 1, r.line))
            return true
        }
        #expect(seen.count == 3)
        #expect(seen[0].id == 7 && seen[0].product == 3 && seen[0].name == #"Forest "Green""# && seen[0].sale == 6950
                && seen[0].original == 14000 && seen[0].isDefault && seen[0].line == 2)
        #expect(seen[1].name == nil && seen[1].sale == nil && seen[1].original == 50 && !seen[1].isDefault)
        #expect(seen[2].name == "" && seen[2].original == 1230 && seen[2].line == 4)
    }

    @Test func batchesEndWhenTheCallerSaysSo() throws {
        let dir = TempDir()
        let rows = (1...10).map { "\($0),1,\"u\($0)\",\"t\($0)\"" }.joined(separator: "\n")
        let path = dir.write("photos.csv", Array((CatalogFile.photos.header + "\n" + rows + "\n").utf8))
        let reader = try RecordReader(file: .photos, path: path)
        var ids: [[Int]] = []
        var more = true
        while more {
            var batch: [Int] = []
            more = try reader.read(onReject: { _ in }) { r in
                batch.append(r.int(0))
                return batch.count < 3
            }
            ids.append(batch)
        }
        #expect(ids.flatMap { $0 } == Array(1...10))
        #expect(ids.dropLast().allSatisfy { $0.count == 3 })
    }

    @Test func rewindReadsTheSameRecordsAndRejectsAgain() throws {
        let dir = TempDir()
        let body = "1,1,S,1\n2,1,M,x\n3,2,L,3\n1,2,XL,4\n4,2,S,5\n"
        let path = dir.write("skus.csv", Array((CatalogFile.skus.header + "\n" + body).utf8))
        let reader = try RecordReader(file: .skus, path: path, bufferSize: 64)
        func readAll() throws -> (ids: [Int], rejects: [String]) {
            var ids: [Int] = []
            var rejects: [String] = []
            while try reader.read(onReject: { rejects.append("\($0.line): \($0.reason)") }, onRecord: { ids.append($0.int(0)); return true }) {}
            return (ids, rejects)
        }
        #expect(reader.isAtFirstRecord)
        // Half a pass, then from the start: the ids seen before do not count as duplicates.
        _ = try reader.read(onReject: { _ in }) { _ in false }
        #expect(!reader.isAtFirstRecord)
        try reader.rewind()
        #expect(reader.isAtFirstRecord && reader.stats.rowsRead == 0)
        let first = try readAll()
        let stats = reader.stats
        try reader.rewind()
        let second = try readAll()
        #expect(first.ids == [1, 3, 4] && second.ids == first.ids)
        #expect(first.rejects == ["3: quantity is not an integer", "5: duplicate id 1"] && second.rejects == first.rejects)
        #expect(reader.stats == stats && stats.bytesRead == reader.totalBytes)
    }
}
