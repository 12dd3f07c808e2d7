import CatalogCSV
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Live counters of one file's load, written by its loader thread, read by the display.
final class FileProgress: Sendable {
    let file: CatalogFile
    let totalBytes: Int
    let bytes = Atomic<Int>(0)
    let rows = Atomic<Int>(0)
    /// 0 waiting, 1 loading, 2 done
    let phase = Atomic<Int>(0)
    let startedAt = Atomic<UInt64>(0)
    let finishedAt = Atomic<UInt64>(0)

    init(file: CatalogFile, totalBytes: Int) {
        self.file = file
        self.totalBytes = totalBytes
    }

    /// The load began (a second pass over the file keeps the first start).
    func start() {
        if startedAt.load(ordering: .relaxed) == 0 { startedAt.store(monotonicNanos(), ordering: .relaxed) }
        phase.store(1, ordering: .relaxed)
    }

    func finish() {
        finishedAt.store(monotonicNanos(), ordering: .relaxed)
        phase.store(2, ordering: .relaxed)
    }

    /// From start to finish.
    var seconds: Double {
        Double(finishedAt.load(ordering: .relaxed) &- startedAt.load(ordering: .relaxed)) / 1e9
    }

    func update(_ stats: FileStats) {
        bytes.store(stats.bytesRead, ordering: .relaxed)
        rows.store(stats.rowsRead, ordering: .relaxed)
    }
}

func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Renders one progress line per file on a terminal (redrawn in place), e.g.
/// `photos.csv    4,512,003 rows   1210/3650 MB   118 MB/s  ETA 21s`.
struct ProgressDisplay {
    private var linesDrawn = 0

    mutating func draw(_ files: [FileProgress], to fd: Int32 = 2) {
        let now = monotonicNanos()
        var out = ""
        if linesDrawn > 0 { out += "\u{1B}[\(linesDrawn)A" }
        for f in files {
            out += "\r\u{1B}[K" + Self.line(f, now: now) + "\n"
        }
        linesDrawn = files.count
        writeAll(fd, Array(out.utf8))
    }

    static func line(_ f: FileProgress, now: UInt64) -> String {
        let name = f.file.fileName.padding(13)
        let bytes = f.bytes.load(ordering: .relaxed)
        let rows = f.rows.load(ordering: .relaxed)
        let phase = f.phase.load(ordering: .relaxed)
        let start = f.startedAt.load(ordering: .relaxed)
        let end = phase == 2 ? f.finishedAt.load(ordering: .relaxed) : now
        let seconds = start == 0 ? 0 : Double(end - start) / 1e9
        let mbps = seconds > 0 ? Double(bytes) / 1e6 / seconds : 0
        let mb = "\(Int(Double(bytes) / 1e6))/\(Int(Double(f.totalBytes) / 1e6)) MB"
        var s = "\(name) \(group(rows).leftPadding(12)) rows  \(mb.leftPadding(15))  \(fixed(mbps, 0).leftPadding(5)) MB/s"
        switch phase {
        case 0: s += "  waiting"
        case 1:
            if mbps > 0 {
                let eta = Double(f.totalBytes - bytes) / 1e6 / mbps
                s += "  ETA \(Int(eta.rounded()))s"
            }
        default: s += "  done in \(fixed(seconds, 1))s"
        }
        return s
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
    func leftPadding(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
