import CatalogCSV

/// What an import did, per file and per phase. Printed as a table at the end of a run
/// and written as JSON with `--report FILE`.
///
/// For every file: `read == loaded + rejected + orphaned + dropped`. `repaired` counts
/// rows that needed a repair (they are also counted in one of the other columns).
public struct FileSummary: Codable, Sendable, Equatable {
    public var file: String
    public var bytes: Int = 0
    /// CSV records after the header (a quoted field that spans lines is one record).
    public var read: Int = 0
    /// Rows that made it into the served catalog.
    public var loaded: Int = 0
    public var repaired: Int = 0
    /// Rows written to the reject file (malformed, wrong types, duplicate id, ...).
    public var rejected: Int = 0
    /// Rows whose parent (product, or style for skus/photos) is not in the catalog.
    public var orphaned: Int = 0
    /// related.csv only: rows pointing to 0, an unknown product, the product itself,
    /// or repeating an earlier pair.
    public var dropped: Int = 0
    /// Wall time spent reading, repairing and COPYing this file.
    public var loadSeconds: Double = 0

    public init(file: String) { self.file = file }
}

public struct PhaseTiming: Codable, Sendable, Equatable {
    public var name: String
    public var seconds: Double
}

public struct ImportReport: Codable, Sendable {
    public var status: String = "running"
    public var error: String?
    public var startedAt: String = ""
    public var totalSeconds: Double = 0
    /// The schema the new catalog lives in (the `catalog` views point at it after the swap).
    public var schema: String = ""
    public var files: [FileSummary] = []
    public var phases: [PhaseTiming] = []
    public var rejectsFile: String?
    /// pg_database_size after the import.
    public var databaseBytes: Int64 = 0
    /// Size of the live catalog schema's tables, indexes and TOAST.
    public var catalogBytes: Int64 = 0
    /// Peak resident set size of the importer process (VmHWM), in bytes.
    public var peakRSSBytes: Int64 = 0

    public init() {}

    public var totalRejected: Int { files.reduce(0) { $0 + $1.rejected } }
    public var totalRead: Int { files.reduce(0) { $0 + $1.read } }

    public subscript(file: CatalogFile) -> FileSummary? {
        files.first { $0.file == file.fileName }
    }

    /// The summary table for humans.
    public func renderTable() -> String {
        var out = renderFileTable()
        out += "\n"
        var phaseRows: [[String]] = [["phase", "seconds"]]
        for p in phases { phaseRows.append([p.name, fixed(p.seconds, 1)]) }
        phaseRows.append(["total", fixed(totalSeconds, 1)])
        out += table(phaseRows, separatorAfter: [0, phases.count])
        out += "\ndatabase \(fixed(Double(databaseBytes) / 1e9, 2)) GB, catalog \(fixed(Double(catalogBytes) / 1e9, 2)) GB, importer peak RSS \(peakRSSBytes / (1 << 20)) MB\n"
        return out
    }

    /// The per-file table.
    public func renderFileTable() -> String {
        var rows: [[String]] = [["file", "read", "loaded", "repaired", "rejected", "orphaned", "dropped", "MB", "load s"]]
        for f in files {
            rows.append([f.file, group(f.read), group(f.loaded), group(f.repaired), group(f.rejected),
                         group(f.orphaned), group(f.dropped), fixed(Double(f.bytes) / 1e6, 1), fixed(f.loadSeconds, 1)])
        }
        let t = files.reduce(into: FileSummary(file: "total")) { acc, f in
            acc.read += f.read; acc.loaded += f.loaded; acc.repaired += f.repaired; acc.rejected += f.rejected
            acc.orphaned += f.orphaned; acc.dropped += f.dropped; acc.bytes += f.bytes
        }
        rows.append([t.file, group(t.read), group(t.loaded), group(t.repaired), group(t.rejected),
                     group(t.orphaned), group(t.dropped), fixed(Double(t.bytes) / 1e6, 1), ""])
        return table(rows, separatorAfter: [0, files.count])
    }

    /// The per-file table of `products-import --clean-copy` (no database: nothing is known
    /// about orphans yet).
    public func renderCheckTable() -> String {
        var rows: [[String]] = [["file", "read", "written", "repaired", "rejected", "MB"]]
        for f in files {
            rows.append([f.file, group(f.read), group(f.loaded), group(f.repaired), group(f.rejected), fixed(Double(f.bytes) / 1e6, 1)])
        }
        rows.append(["total", group(totalRead), group(files.reduce(0) { $0 + $1.loaded }), group(files.reduce(0) { $0 + $1.repaired }),
                     group(totalRejected), fixed(Double(files.reduce(0) { $0 + $1.bytes }) / 1e6, 1)])
        return table(rows, separatorAfter: [0, files.count])
    }
}

private func table(_ rows: [[String]], separatorAfter: Set<Int>) -> String {
    let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
    var out = ""
    for (i, row) in rows.enumerated() {
        let cells = row.enumerated().map { c, cell in
            let pad = String(repeating: " ", count: widths[c] - cell.count)
            return c == 0 ? cell + pad : pad + cell
        }
        out += cells.joined(separator: "  ") + "\n"
        if separatorAfter.contains(i) {
            out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        }
    }
    return out
}

func group(_ n: Int) -> String {
    let digits = String(n)
    var out = ""
    for (i, ch) in digits.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return String(out.reversed())
}

func fixed(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var s = String(rounded)
    if let dot = s.firstIndex(of: ".") {
        let have = s.distance(from: dot, to: s.endIndex) - 1
        if have < decimals { s += String(repeating: "0", count: decimals - have) }
        if decimals == 0 { s = String(s[..<dot]) }
    } else if decimals > 0 {
        s += "." + String(repeating: "0", count: decimals)
    }
    return s
}
