import CatalogCSV
import Foundation
import Logging
import Postgres
import Synchronization

/// What every phase of one import shares: the options, the log, the stop request and the
/// reject count, and how to open a database connection.
final class ImportSession: Sendable {
    let options: ImportOptions
    let logger: Logger
    private let cancelled = Atomic<Bool>(false)
    private let rejected = Atomic<Int>(0)

    init(options: ImportOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Asks the import to stop at the next chunk or step.
    func cancel() { cancelled.store(true, ordering: .relaxed) }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    /// Throws `ImportError.cancelled` once a stop was asked for.
    func checkCancelled() throws {
        if isCancelled { throw ImportError.cancelled }
    }

    /// Why the import stopped when it was cancelled: too many rejects, or a stop request.
    var cancellation: ImportError {
        let total = rejected.load(ordering: .relaxed)
        if let limit = options.maxRejects, total > limit { return .tooManyRejects(rejected: total, limit: String(limit)) }
        return .cancelled
    }

    /// Writes a reject; past `--max-rejects` the import stops.
    func reject(_ reject: Reject, to rejects: RejectWriter) {
        rejects.write(reject)
        let total = rejected.add(1, ordering: .relaxed).newValue
        if let limit = options.maxRejects, total > limit { cancel() }
    }

    func connect() throws -> Connection {
        do {
            return try Connection(conninfo: options.database, overrides: ["application_name": "products-import", "connect_timeout": "10"])
        } catch {
            throw ImportError.database("cannot connect to the database, nothing was changed (the catalog that is serving stays as it is): \(error.detail.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " "))")
        }
    }

    /// Runs one step of the build on a connection of its own.
    func build(_ what: String, _ sql: String, planner: String = "") throws {
        try checkCancelled()
        let conn = try connect()
        let start = monotonicNanos()
        try conn.execute(CatalogSQL.buildSessionSettings + planner)
        try conn.execute(sql)
        logger.info("built \(what)", metadata: ["seconds": "\(fixed(elapsed(since: start), 1))"])
    }
}

/// The six files, opened and their headers checked by the preflight; each reader is then used
/// by one load job at a time (hence unchecked Sendable).
struct ImportInputs: @unchecked Sendable {
    let readers: [CatalogFile: RecordReader]

    func reader(_ file: CatalogFile) -> RecordReader { readers[file]! }
    func size(_ file: CatalogFile) -> Int { readers[file]!.totalBytes }
}
