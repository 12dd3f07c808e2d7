#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A one-line progress display on stderr (file, MB written, MB/s), redrawn at most a few
/// times a second. Writers on both threads report after each buffer they flush.
final class ProgressMeter: Sendable {
    private struct State {
        var bytes: [Int] = Array(repeating: 0, count: ExportFile.allCases.count)
        var current: [ExportFile] = []
        var lastDraw = 0.0
    }

    private let enabled: Bool
    private let start = monotonicSeconds()
    private let state = Mutex(State())

    init(enabled: Bool) { self.enabled = enabled }

    func began(_ file: ExportFile) {
        guard enabled else { return }
        state.withLock { $0.current.append(file) }
    }

    func wrote(_ file: ExportFile, totalBytes: Int) {
        guard enabled else { return }
        let line: String? = state.withLock { s in
            s.bytes[ExportFile.allCases.firstIndex(of: file)!] = totalBytes
            let now = monotonicSeconds()
            guard now - s.lastDraw >= 0.25 else { return nil }
            s.lastDraw = now
            return Self.render(s, elapsed: now - start)
        }
        if let line { draw("\r\u{1B}[K" + line) }
    }

    func ended(_ file: ExportFile) {
        guard enabled else { return }
        state.withLock { $0.current.removeAll { $0 == file } }
    }

    func finish() {
        guard enabled else { return }
        let line = state.withLock { Self.render($0, elapsed: monotonicSeconds() - start) }
        draw("\r\u{1B}[K" + line + "\n")
    }

    private static func render(_ s: State, elapsed: Double) -> String {
        let total = s.bytes.reduce(0, +)
        var parts: [String] = []
        for file in s.current {
            parts.append("\(file.fileName) \(s.bytes[ExportFile.allCases.firstIndex(of: file)!] / 1_000_000) MB")
        }
        let rate = elapsed > 0 ? Int(Double(total) / 1e6 / elapsed) : 0
        return (parts.isEmpty ? "done" : parts.joined(separator: ", "))
            + " | total \(total / 1_000_000) MB, \(rate) MB/s, \(Int(elapsed)) s"
    }

    private func draw(_ text: String) {
        var bytes = Array(text.utf8)
        _ = write(2, &bytes, bytes.count)
    }
}
