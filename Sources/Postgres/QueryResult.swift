import CLibPQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A query's result. Owns its `PGresult`; `deinit` clears it on every path.
public final class QueryResult {
    private let raw: OpaquePointer

    init(_ raw: OpaquePointer) { self.raw = raw }
    deinit { PQclear(raw) }

    public var rowCount: Int { Int(PQntuples(raw)) }
    public var columnCount: Int { Int(PQnfields(raw)) }
    /// Rows affected by INSERT/UPDATE/DELETE/COPY (0 when not applicable).
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(raw))) ?? 0 }

    public func isNull(row: Int, column: Int) -> Bool {
        PQgetisnull(raw, Int32(row), Int32(column)) == 1
    }

    /// The value as a String, or nil for SQL NULL or a row/column that does not exist.
    public func string(row: Int, column: Int) -> String? {
        guard row < rowCount, column < columnCount else { return nil }
        if isNull(row: row, column: column) { return nil }
        return String(cString: PQgetvalue(raw, Int32(row), Int32(column)))
    }

    public func int(row: Int, column: Int) -> Int? {
        string(row: row, column: column).flatMap { Int($0) }
    }

    /// The value's bytes without copying; valid only inside `body`. Empty for NULL.
    public func withBytes<R, E: Error>(row: Int, column: Int, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let length = Int(PQgetlength(raw, Int32(row), Int32(column)))
        guard let p = PQgetvalue(raw, Int32(row), Int32(column)) else {
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return try body(UnsafeRawBufferPointer(start: p, count: length))
    }

    /// One column's values, row by row, as bytes (empty for NULL): valid inside `body` only,
    /// like ``withBytes(row:column:_:)``. A collection, so that it can go as it is to code that
    /// renders a list of documents (ProductsAPI's `Response.appendOKArray`).
    public func withColumn<R, E: Error>(_ column: Int, _ body: (Column) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(self) { () throws(E) -> R in
            try body(Column(raw: raw, column: Int32(column), count: rowCount))
        }
    }

    public struct Column: RandomAccessCollection {
        fileprivate let raw: OpaquePointer
        fileprivate let column: Int32
        public let count: Int
        public var startIndex: Int { 0 }
        public var endIndex: Int { count }
        public subscript(row: Int) -> UnsafeRawBufferPointer {
            guard let p = PQgetvalue(raw, Int32(row), column) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            return UnsafeRawBufferPointer(start: p, count: Int(PQgetlength(raw, Int32(row), column)))
        }
    }
}
