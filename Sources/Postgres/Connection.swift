import CLibPQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One libpq connection. It owns its handle: `deinit` is the only place `PQfinish` runs.
///
/// A connection is not thread-safe and is deliberately not `Sendable`: keep it confined
/// to the thread (in the server: the worker process) that made it.
public final class Connection {
    private let handle: OpaquePointer

    /// Connects with `PQconnectdbParams`. `conninfo` may be a `key=value` string or a
    /// `postgresql://` URI (it is passed as `dbname` with `expand_dbname`, so libpq parses
    /// it); `overrides` are applied on top, e.g. `["application_name": "products-import"]`.
    public init(conninfo: String, overrides: [String: String] = [:]) throws(PostgresError) {
        var keys: [String] = ["dbname"]
        var values: [String] = [conninfo]
        for (k, v) in overrides.sorted(by: { $0.key < $1.key }) {
            keys.append(k)
            values.append(v)
        }
        let conn = withCStringArray(keys) { k in
            withCStringArray(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let conn else {
            throw PostgresError(code: .connection, detail: "out of memory allocating a connection")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(conn))
            let host = PQhost(conn).map { String(cString: $0) } ?? ""
            let port = PQport(conn).map { String(cString: $0) } ?? ""
            PQfinish(conn)
            throw PostgresError(code: .connection, detail: message,
                                failedServer: host.isEmpty ? nil : (host, port))
        }
        // Server NOTICEs ("drop cascades to ...") are not errors: keep them off stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        self.handle = conn
    }

    deinit { PQfinish(handle) }

    /// False once the server has gone away (seen by libpq on the last call).
    public var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

    /// The host this connection reached (`PQhost`: the host name from the conninfo, or the
    /// address when only `hostaddr` was given; the socket directory for a unix socket).
    public var host: String { PQhost(handle).map { String(cString: $0) } ?? "" }

    /// The port this connection reached (`PQport`).
    public var port: String { PQport(handle).map { String(cString: $0) } ?? "" }

    /// True when the server is a hot standby (the `in_hot_standby` parameter PostgreSQL 14+
    /// reports at connection start and on change; false for older servers).
    public var isHotStandby: Bool {
        PQparameterStatus(handle, "in_hot_standby").map { String(cString: $0) == "on" } ?? false
    }

    /// The server's backend process id (useful in logs).
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// Runs one or more SQL statements with no parameters (simple query protocol).
    /// Returns the result of the last statement.
    @discardableResult
    public func execute(_ sql: String) throws(PostgresError) -> QueryResult {
        try check(PQexec(handle, sql))
    }

    /// Runs one statement with text parameters (`$1`, `$2`, ...). `nil` is SQL NULL.
    /// Parameters are sent separately from the SQL text: never interpolate values.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?]) throws(PostgresError) -> QueryResult {
        let raw = withParameters(parameters) { count, values in
            PQexecParams(handle, sql, count, nil, values, nil, nil, 0)
        }
        return try check(raw)
    }

    /// Prepares a named statement on this connection.
    public func prepare(_ name: String, _ sql: String) throws(PostgresError) {
        _ = try check(PQprepare(handle, name, sql, 0, nil))
    }

    /// Executes a statement made by `prepare`.
    @discardableResult
    public func executePrepared(_ name: String, _ parameters: [String?]) throws(PostgresError) -> QueryResult {
        let raw = withParameters(parameters) { count, values in
            PQexecPrepared(handle, name, count, values, nil, nil, 0)
        }
        return try check(raw)
    }

    /// Executes a prepared statement with one parameter in PostgreSQL's *binary* format,
    /// given as raw bytes (e.g. an `int4` as 4 big-endian bytes): no String is built and the
    /// server parses nothing (the API worker's hot path).
    /// With `binaryResult`, the columns come back in binary form too (`bytea` and `text` as
    /// their bytes; in text form a `bytea` would be `\x` and hex).
    @discardableResult
    public func executePrepared(_ name: String, parameter bytes: UnsafeBufferPointer<CChar>,
                                binaryResult: Bool = false) throws(PostgresError) -> QueryResult {
        var value: UnsafePointer<CChar>? = bytes.baseAddress
        var length = Int32(bytes.count)
        var format: Int32 = 1  // binary: the bytes are taken as they are, no NUL needed
        let raw = PQexecPrepared(handle, name, 1, &value, &length, &format, binaryResult ? 1 : 0)
        return try check(raw)
    }

    /// Runs `COPY ... FROM STDIN` and lets `body` stream the data through a `CopyWriter`.
    /// If `body` throws, the COPY is aborted (the server rolls the statement back) and
    /// the error is rethrown. Returns the number of rows the server says it loaded.
    @discardableResult
    public func copyIn<E: Error>(_ sql: String, _ body: (inout CopyWriter) throws(E) -> Void) throws -> Int {
        let start = try check(PQexec(handle, sql), expecting: PGRES_COPY_IN)
        _ = start
        var writer = CopyWriter(connection: self)
        do {
            try body(&writer)
            try writer.flush()
        } catch {
            _ = PQputCopyEnd(handle, "aborted by client")
            drainResults()
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else {
            throw PostgresError(code: .copy, detail: lastErrorMessage)
        }
        let end = try check(PQgetResult(handle))
        drainResults()
        return Int(end.affectedRows)
    }

    /// Runs `COPY ... TO STDOUT` and hands `body` each chunk of data as libpq receives it (one
    /// row per chunk in practice; a parser must not rely on it). Returns the rows copied. If
    /// `body` throws, the error is rethrown at once and the connection is left in the middle
    /// of the COPY: discard it (the importer's connections are one per job).
    @discardableResult
    public func copyOut(_ sql: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        _ = try check(PQexec(handle, sql), expecting: PGRES_COPY_OUT)
        while true {
            var buffer: UnsafeMutablePointer<CChar>? = nil
            let length = PQgetCopyData(handle, &buffer, 0)
            if length == -1 { break }  // done: the command's result follows
            guard length >= 0, let buffer else {
                throw PostgresError(code: isHealthy ? .copy : .connection, detail: lastErrorMessage)
            }
            defer { PQfreemem(buffer) }
            try body(UnsafeRawBufferPointer(start: buffer, count: Int(length)))
        }
        let end = try check(PQgetResult(handle))
        drainResults()
        return Int(end.affectedRows)
    }

    func putCopyData(_ bytes: UnsafeRawBufferPointer) throws(PostgresError) {
        guard bytes.count > 0 else { return }
        let rc = bytes.withMemoryRebound(to: CChar.self) { PQputCopyData(handle, $0.baseAddress, Int32($0.count)) }
        if rc != 1 { throw PostgresError(code: .copy, detail: lastErrorMessage) }
    }

    func putCopyData(_ bytes: [UInt8]) throws(PostgresError) {
        guard !bytes.isEmpty else { return }
        let rc = bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { PQputCopyData(handle, $0.baseAddress, Int32($0.count)) }
        }
        if rc != 1 { throw PostgresError(code: .copy, detail: lastErrorMessage) }
    }

    /// Quotes an identifier (schema, table) for inclusion in SQL text.
    public func quoteIdentifier(_ name: String) -> String {
        guard let p = PQescapeIdentifier(handle, name, name.utf8.count) else { return "\"\"" }
        defer { PQfreemem(p) }
        return String(cString: p)
    }

    /// Quotes a string literal for inclusion in SQL text (for DDL, which takes no parameters).
    public func quoteLiteral(_ value: String) -> String {
        guard let p = PQescapeLiteral(handle, value, value.utf8.count) else { return "''" }
        defer { PQfreemem(p) }
        return String(cString: p)
    }

    private var lastErrorMessage: String { String(cString: PQerrorMessage(handle)) }

    private func drainResults() {
        while let r = PQgetResult(handle) { PQclear(r) }
    }

    private func check(_ raw: OpaquePointer?, expecting expected: ExecStatusType? = nil) throws(PostgresError) -> QueryResult {
        guard let raw else {
            throw PostgresError(code: isHealthy ? .server : .connection, detail: lastErrorMessage)
        }
        let status = PQresultStatus(raw)
        if let expected, status == expected { return QueryResult(raw) }
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            if expected == nil { return QueryResult(raw) }
            PQclear(raw)
            throw PostgresError(code: .protocolViolation, detail: "unexpected result status \(status)")
        default:
            let state = PQresultErrorField(raw, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = String(cString: PQresultErrorMessage(raw))
            PQclear(raw)
            throw PostgresError(code: .of(failedResultWithSQLState: state, connectionHealthy: isHealthy),
                                sqlState: state, detail: message)
        }
    }
}

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { buf in
        buf.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buf.count) { body($0) }
    }
}

private func withParameters<R>(_ parameters: [String?], _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let owned: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } ?? nil }
    defer { for p in owned { free(p) } }
    return owned.withUnsafeBufferPointer { buf in
        buf.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(buf.count, 1)) {
            body(Int32(parameters.count), parameters.isEmpty ? nil : $0)
        }
    }
}
