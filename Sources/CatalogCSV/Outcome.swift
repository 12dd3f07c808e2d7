#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A record that was not loaded. Rejects never stop a conversion.
public struct Reject: Sendable {
    public let file: CatalogFile
    /// Physical line where the record starts; the header is line 1 (blank lines count).
    public let line: Int
    /// Short, stable, human: "wrong number of fields (5, expected 6)", "id is not an integer",
    /// "duplicate id 17", "not valid UTF-8", "NUL byte", "quantity is not a number", …
    public let reason: String
    /// The record's raw bytes without its final line break (for a record longer than the
    /// converter's `maxRecordBytes`, only its first 64 KiB).
    public let raw: [UInt8]

    public init(file: CatalogFile, line: Int, reason: String, raw: [UInt8]) {
        self.file = file
        self.line = line
        self.reason = reason
        self.raw = raw
    }
}

/// Counters for one file. `rowsRead == rowsAccepted + rejected` at every point between calls;
/// `repaired` counts accepted rows that needed a repair (so it is part of `rowsAccepted`).
/// Blank lines are not records and are not counted.
public struct FileStats: Sendable, Equatable {
    /// Bytes read from the file so far (header included); equals the file size at the end.
    public var bytesRead: Int
    /// Records after the header.
    public var rowsRead: Int
    public var rowsAccepted: Int
    public var repaired: Int
    public var rejected: Int

    public init(bytesRead: Int = 0, rowsRead: Int = 0, rowsAccepted: Int = 0, repaired: Int = 0, rejected: Int = 0) {
        self.bytesRead = bytesRead
        self.rowsRead = rowsRead
        self.rowsAccepted = rowsAccepted
        self.repaired = repaired
        self.rejected = rejected
    }
}

/// The only failures that stop a file: it cannot be opened or read, or it is not the expected file.
public enum CSVFileError: Error, CustomStringConvertible, Equatable {
    case missing(path: String)
    case unreadable(path: String, errno: Int32)
    case wrongHeader(path: String, expected: String, found: String)
    /// Zero bytes, or nothing but a BOM and line breaks.
    case empty(path: String)

    public var description: String {
        switch self {
        case .missing(let path):
            "missing file: \(path)"
        case .unreadable(let path, let code):
            "cannot read \(path): \(String(cString: strerror(code))) (errno \(code))"
        case .wrongHeader(let path, let expected, let found):
            "wrong header in \(path): expected \"\(expected)\", found \"\(found)\""
        case .empty(let path):
            "empty file: \(path)"
        }
    }
}
