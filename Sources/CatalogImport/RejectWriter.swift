import SystemCalls
import CatalogCSV
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Appends rejected rows to a CSV file: `file,line,reason,raw`, the raw record quoted as
/// CSV (its bytes kept as they were, even when they are not UTF-8), so that a person can
/// read it and a script can re-feed it.
final class RejectWriter: Sendable {
    private let state: Mutex<State>
    struct State {
        var fd: Int32
        var count = 0
    }

    init(path: String) throws(ImportError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ImportError.input("cannot write the reject file \(path): \(String(cString: strerror(errno)))")
        }
        state = Mutex(State(fd: fd))
        writeAll(fd, Array("file,line,reason,raw\n".utf8))
    }

    deinit { _ = state.withLock { close($0.fd) } }

    var count: Int { state.withLock { $0.count } }

    func write(_ reject: Reject) {
        var line: [UInt8] = []
        line.reserveCapacity(reject.raw.count + 64)
        line.append(contentsOf: reject.file.fileName.utf8)
        line.append(UInt8(ascii: ","))
        line.append(contentsOf: String(reject.line).utf8)
        line.append(UInt8(ascii: ","))
        appendQuoted(Array(reject.reason.utf8), to: &line)
        line.append(UInt8(ascii: ","))
        appendQuoted(reject.raw, to: &line)
        line.append(UInt8(ascii: "\n"))
        state.withLock { s in
            writeAll(s.fd, line)
            s.count += 1
        }
    }

    private func appendQuoted(_ bytes: [UInt8], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            if b == UInt8(ascii: "\"") { out.append(b) }
            out.append(b)
        }
        out.append(UInt8(ascii: "\""))
    }
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    // Best effort, as before: a reject file that cannot be written does not stop the import.
    bytes.withUnsafeBytes { try? SystemCalls.writeAll(fd, $0) }
}
