import Foundation
import Testing
import CatalogCSV

/// A scratch directory per test (tests run in parallel), removed by `deinit`.
final class TempDir {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("catalog-csv-tests-\(UUID().uuidString)", isDirectory: true)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let path = url.appendingPathComponent(name).path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }
}

struct Conversion {
    var output: String
    var rejects: [Reject]
    var stats: FileStats
    var batches: Int
    var lines: [String] { output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
}

/// Converts `body` (appended to the file's header line unless `withHeader` is false) to the end.
func convert(
    _ file: CatalogFile, _ body: [UInt8], withHeader: Bool = true,
    bufferSize: Int = CopyTextConverter.defaultBufferSize,
    maxRecordBytes: Int = CopyTextConverter.defaultMaxRecordBytes,
    minimumBytes: Int = 1 << 20
) throws -> Conversion {
    let dir = TempDir()
    let bytes = (withHeader ? Array((file.header + "\n").utf8) : []) + body
    let path = dir.write(file.fileName, bytes)
    let converter = try CopyTextConverter(file: file, path: path, bufferSize: bufferSize, maxRecordBytes: maxRecordBytes)
    #expect(converter.totalBytes == bytes.count)
    var out: [UInt8] = []
    var rejects: [Reject] = []
    var batches = 0
    var more = true
    while more {
        let before = out.count
        more = try converter.fill(&out, minimumBytes: minimumBytes) { rejects.append($0) }
        if out.count > before { batches += 1 }
        if more { #expect(out.count - before >= minimumBytes) }
        let s = converter.stats
        #expect(s.rowsRead == s.rowsAccepted + s.rejected)
    }
    #expect(try converter.fill(&out, minimumBytes: minimumBytes) { _ in } == false)
    #expect(converter.stats.bytesRead == bytes.count)
    return Conversion(output: String(decoding: out, as: UTF8.self), rejects: rejects, stats: converter.stats, batches: batches)
}

func convert(
    _ file: CatalogFile, _ body: String, withHeader: Bool = true,
    bufferSize: Int = CopyTextConverter.defaultBufferSize, minimumBytes: Int = 1 << 20
) throws -> Conversion {
    try convert(file, Array(body.utf8), withHeader: withHeader, bufferSize: bufferSize, minimumBytes: minimumBytes)
}

/// The reasons of the rejects, with their line numbers: ["3: id is not an integer"].
func reasons(_ c: Conversion) -> [String] {
    c.rejects.map { "\($0.line): \($0.reason)" }
}

func openError(_ file: CatalogFile, path: String) -> CSVFileError? {
    do {
        _ = try CopyTextConverter(file: file, path: path)
        return nil
    } catch {
        return error
    }
}
