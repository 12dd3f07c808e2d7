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
    /// For a connection attempt that failed: the server libpq was talking to when it gave up
    /// (`PQhost`/`PQport` of the failed handle: with a multi-host conninfo, the host that
    /// ended the attempt, e.g. one that accepted and then closed the connection). Nil otherwise.
    public let failedServer: (host: String, port: String)?

    public init(code: Code, sqlState: String? = nil, detail: String, failedServer: (host: String, port: String)? = nil) {
        self.code = code
        self.sqlState = sqlState
        self.detail = detail
        self.failedServer = failedServer
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
        return sqlState.hasPrefix(SQLState.connectionExceptionClass) || SQLState.shutdown.contains(sqlState)
    }

    /// This session cannot go on as it is: its prepared statement is gone (26000, e.g. after a
    /// pooler's DISCARD ALL) or its cached plan no longer fits the tables' columns (0A000,
    /// "cached plan must not change result type"). Reconnect (and prepare again), then retry.
    public var invalidatesSession: Bool {
        sqlState == SQLState.invalidStatementName || sqlState == SQLState.featureNotSupported
    }

    /// A hot standby cancelled the statement to apply the primary's changes: 40001 ("canceling
    /// statement due to conflict with recovery"; 40P01 for a buffer-pin deadlock). On a
    /// primary, 40001 only comes from serializable transactions, which the API never runs.
    public var isRecoveryConflict: Bool {
        sqlState == SQLState.serializationFailure || sqlState == SQLState.deadlockDetected
    }

    /// Worth a retry later, not a bug: statement timeout or cancel (57014), a recovery
    /// conflict, insufficient resources (class 53: too many connections, out of memory).
    public var isTransient: Bool {
        guard let sqlState else { return false }
        return sqlState == SQLState.queryCanceled || isRecoveryConflict || sqlState.hasPrefix(SQLState.insufficientResourcesClass)
    }

    /// Another session holds a lock this statement asked for with NOWAIT or lock_timeout (55P03).
    public var isLockNotAvailable: Bool { sqlState == SQLState.lockNotAvailable }
}

/// The SQLSTATE codes this code base acts on (PostgreSQL's errcodes, Appendix A), in one place:
/// the worker's and the importer's decisions are the properties of ``PostgresError``.
public enum SQLState {
    public static let connectionExceptionClass = "08"
    /// admin_shutdown, crash_shutdown, cannot_connect_now.
    public static let shutdown: Set<String> = ["57P01", "57P02", "57P03"]
    public static let invalidStatementName = "26000"
    public static let featureNotSupported = "0A000"
    public static let serializationFailure = "40001"
    public static let deadlockDetected = "40P01"
    public static let queryCanceled = "57014"
    public static let insufficientResourcesClass = "53"
    public static let lockNotAvailable = "55P03"
    public static let undefinedTable = "42P01"
    public static let duplicatePreparedStatement = "42P05"
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var s = Substring(self)
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
