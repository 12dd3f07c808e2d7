import CatalogCSV
import Foundation
import Logging
import Postgres
import Synchronization

/// Loads the six CSV files into a fresh staging schema, builds the read model there and
/// swaps it in atomically, in four phases: `Preflight` (files and database checked, staging
/// schema created), `LoadPhase`, `BuildPhase`, and the swap below. Until the swap commits, the
/// API keeps serving the previous catalog; if anything fails (or the process is killed) the
/// staging schema is dropped now or by the next run.
public final class Importer: Sendable {
    public var options: ImportOptions { session.options }
    private let session: ImportSession

    public init(options: ImportOptions, logger: Logger) {
        session = ImportSession(options: options, logger: logger)
    }

    /// Asks a running import to stop at the next chunk or step (Ctrl-C, SIGTERM): the staging
    /// schema is dropped and the catalog that is serving stays as it is.
    public func cancel() { session.cancel() }

    public func run() throws -> ImportReport {
        let started = monotonicNanos()
        var report = ImportReport()
        report.startedAt = ISO8601DateFormatter().string(from: Date())
        report.rejectsFile = options.rejectsPath

        let ready = try Preflight(session: session).run()
        let (control, schema) = (ready.control, ready.schema)
        report.schema = schema
        session.logger.info("importing", metadata: ["data": "\(options.dataDirectory)", "schema": "\(schema)"])
        do {
            var phase = monotonicNanos()
            let load = try LoadPhase(session: session, schema: schema, inputs: ready.inputs,
                                     rejects: try RejectWriter(path: options.rejectsPath)).run()
            report.phases.append(PhaseTiming(name: "load (read, repair, render JSON, COPY)", seconds: elapsed(since: phase)))
            try checkRejectRate(load.files.values.map(\.stats))

            let build = try BuildPhase(session: session, schema: schema, shape: load.shape,
                                       products: load.files[.product]?.stats.rowsAccepted ?? 0).run(control)
            report.phases += build.phases
            report.files = CatalogFile.allCases.map { FileSummary($0, load.files[$0]!, loaded: build.loaded[$0] ?? 0) }
            guard (report[.product]?.loaded ?? 0) > 0 else { throw ImportError.emptyCatalog }
            if !options.keepStaging {
                try control.execute(CatalogSQL.dropStagingTables(schema))
            }

            // Phase 4, the swap: one transaction re-points catalog.product; readers see old or new.
            phase = monotonicNanos()
            report.status = "ok"
            report.totalSeconds = elapsed(since: started)
            report.peakRSSBytes = peakRSS()
            // The last moment a stop request (Ctrl-C, SIGTERM) can still leave everything as it was.
            try session.checkCancelled()
            try swap(schema, report: report, control)
            report.phases.append(PhaseTiming(name: "swap", seconds: elapsed(since: phase)))
        } catch {
            session.logger.error("import failed; dropping the staging schema", metadata: ["schema": "\(schema)"])
            _ = try? control.execute(CatalogSQL.dropSchema(schema))
            if let e = error as? PostgresError {
                throw ImportError.database("database error: \(e.debugDescription)")
            }
            throw error
        }

        // The previous catalog is no longer referenced: drop it (or leave it to the next run).
        if let live = ready.live, live != schema {
            dropSchemaPolitely(control, live, session)
        }
        report.totalSeconds = elapsed(since: started)
        report.peakRSSBytes = peakRSS()
        if let size = try? control.execute(CatalogSQL.databaseSize).string(row: 0, column: 0) {
            report.databaseBytes = Int64(size) ?? 0
        }
        if let size = try? control.execute(CatalogSQL.schemaSize, [schema]).string(row: 0, column: 0) {
            report.catalogBytes = Int64(size) ?? 0
        }
        return report
    }

    private func checkRejectRate(_ files: [FileStats]) throws {
        let rejected = files.reduce(0) { $0 + $1.rejected }
        if let limit = options.maxRejects, rejected > limit {
            throw ImportError.tooManyRejects(rejected: rejected, limit: String(limit))
        }
        let read = max(files.reduce(0) { $0 + $1.rowsRead }, 1)
        if Double(rejected) / Double(read) > options.maxRejectRate {
            throw ImportError.tooManyRejects(rejected: rejected, limit: "\(options.maxRejectRate * 100)% of \(read) rows")
        }
    }

    private func swap(_ schema: String, report: ImportReport, _ conn: Connection) throws {
        var apiRole: String? = nil
        if let role = options.apiRole {
            let exists = try conn.execute(CatalogSQL.roleExists, [role]).rowCount == 1
            if exists { apiRole = conn.quoteIdentifier(role) } else {
                session.logger.warning("role \(role) does not exist: the API cannot read the catalog until it is granted SELECT on catalog.product (Deploy/sql/roles.sql creates it)")
            }
        }
        let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        var attempt = 0
        while true {
            do {
                try conn.execute(CatalogSQL.swap(schema, apiRole: apiRole, reportLiteral: conn.quoteLiteral(json)))
                session.logger.notice("catalog swapped in: generation \(CatalogSQL.generation(ofSchema: schema)) (responses' ETags name it)")
                return
            } catch {
                // lock_timeout: a long reader holds the view; readers are bounded by their
                // statement_timeout, so waiting a little and retrying converges.
                guard error.isLockNotAvailable, attempt < 5 else { throw error }
                _ = try? conn.execute(CatalogSQL.rollback)
                attempt += 1
                session.logger.warning("swap waited for readers; retrying", metadata: ["attempt": "\(attempt)"])
            }
        }
    }
}

func elapsed(since start: UInt64) -> Double { Double(monotonicNanos() - start) / 1e9 }

/// VmHWM from /proc/self/status: the peak resident set size.
func peakRSS() -> Int64 {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int64($0) } ?? 0
        return kb * 1024
    }
    return 0
}

/// Redraws the progress lines every 250 ms on its own thread while the load runs.
final class ProgressTicker: Sendable {
    private let running = Atomic<Bool>(true)
    private let finished = DispatchSemaphore(value: 0)
    private let enabled: Bool

    init(files: [FileProgress], enabled: Bool) {
        self.enabled = enabled
        guard enabled else { return }
        let thread = Thread { [self] in
            var display = ProgressDisplay()
            while self.running.load(ordering: .relaxed) {
                display.draw(files)
                usleep(250_000)
            }
            display.draw(files)
            self.finished.signal()
        }
        thread.start()
    }

    func stop() {
        guard enabled, running.exchange(false, ordering: .relaxed) else { return }
        finished.wait()
    }
}
