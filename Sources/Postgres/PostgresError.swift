/// An error from libpq or the server.
///
/// `description` is deliberately generic, so that it can never leak SQL or server
/// details to an API client; `debugDescription` carries everything for the log.
public struct PostgresError: Error, CustomStringConvertible, CustomDebugStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// Could not connect, or the connection broke.
        case connection
        /// The server rejected a statement (see `sqlState`).
        case server
        /// A COPY stream failed.
        case copy
        /// The result did not have the shape the caller asked for.
        case protocolViolation

        /// The code of a failed statement's result. The server sends a SQLSTATE with every
        /// error; a result without one was made by libpq itself — "server closed the
        /// connection unexpectedly" when a backend died under a query (measured: PostgreSQL's
        /// immediate shutdown under load, Deploy/bench/chaos), sometimes while PQstatus still
        /// said CONNECTION_OK — so it is a lost connection, to be re-established and retried,
        /// never the server's verdict on the statement.
        public static func of(failedResultWithSQLState sqlState: String?, connectionHealthy: Bool) -> Code {
            connectionHealthy && sqlState != nil ? .server : .connection
        }
    }

    public let code: Code
    /// The five-character SQLSTATE, when the server sent one (e.g. "23505").
    public let sqlState: String?
    /// libpq's or the server's message: for logs only.
    public let detail: String

    public init(code: Code, sqlState: String? = nil, detail: String) {
        self.code = code
        self.sqlState = sqlState
        self.detail = detail
    }

    public var description: String { "database error (\(code.rawValue))" }

    public var debugDescription: String {
        let trimmed = detail.trimmingTrailingWhitespace()
        if let sqlState { return "PostgresError(\(code.rawValue), SQLSTATE \(sqlState)): \(trimmed)" }
        return "PostgresError(\(code.rawValue)): \(trimmed)"
    }

    /// True when the error means the connection is unusable and must be re-established
    /// (connection failures, admin shutdown, server crash recovery, ...).
    public var isConnectionLoss: Bool {
        if code == .connection { return true }
        guard let sqlState else { return false }
        // Class 08: connection exception; 57P01..57P03: admin shutdown, crash shutdown,
        // cannot connect now.
        return sqlState.hasPrefix("08") || sqlState == "57P01" || sqlState == "57P02" || sqlState == "57P03"
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var s = Substring(self)
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
