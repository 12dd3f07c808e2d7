import CatalogCSV
import Foundation
import Synchronization
import SystemCalls

/// `products-import --clean-copy DIR`: the six files checked and repaired exactly as an import
/// would, without a database; the rows an import would load written to DIR as PostgreSQL COPY
/// text (`<file>.copy`: tab-separated, `\N` for NULL, values normalized, see `ColumnKind`),
/// the rejects to the reject file. For an operator, a dry run of a new export; for
/// Deploy/bench/import-benchmark, the clean input of its baseline (a bare COPY of the very rows
/// the importer loads).
public enum CleanCopy {
    public static func run(options: ImportOptions, into directory: String) throws -> [FileSummary] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let rejects = try RejectWriter(path: options.rejectsPath)
        let results = Mutex<[CatalogFile: FileSummary]>([:])
        // Largest first, on `jobs` threads.
        let files: [CatalogFile] = [.photos, .skus, .styles, .features, .related, .product]
        try runOnThreads(width: options.jobs, files.map { file in
            { @Sendable in
                let source = (options.dataDirectory as NSString).appendingPathComponent(file.fileName)
                let target = (directory as NSString).appendingPathComponent(file.rawValue + ".copy")
                let converter: CopyTextConverter
                do throws(CSVFileError) { converter = try CopyTextConverter(file: file, path: source) } catch { throw ImportError.input(error.description) }
                let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw ImportError.input("cannot write \(target): \(String(cString: strerror(errno)))") }
                defer { close(fd) }
                var chunk: [UInt8] = []
                chunk.reserveCapacity(1 << 21)
                var more = true
                while more {
                    chunk.removeAll(keepingCapacity: true)
                    do throws(CSVFileError) { more = try converter.fill(&chunk, minimumBytes: 1 << 20) { rejects.write($0) } } catch {
                        throw ImportError.input(error.description)
                    }
                    do { try chunk.withUnsafeBytes { try SystemCalls.writeAll(fd, $0) } } catch {
                        throw ImportError.input("cannot write \(target): \(error)")
                    }
                }
                var summary = FileSummary(file: file.fileName)
                summary.bytes = converter.stats.bytesRead
                summary.read = converter.stats.rowsRead
                summary.loaded = converter.stats.rowsAccepted  // written; orphans need the other files (the build)
                summary.repaired = converter.stats.repaired
                summary.rejected = converter.stats.rejected
                results.withLock { $0[file] = summary }
            }
        })
        let all = results.withLock { $0 }
        return CatalogFile.allCases.map { all[$0]! }
    }
}
