import CatalogCSV
import Foundation
import Postgres

/// Phase 1, before anything changes: every file opened (once, for the whole import) with the
/// right header; the database reachable, writable (not a standby), ours alone (advisory lock),
/// leftovers of killed imports dropped; the staging schema created.
struct Preflight {
    let session: ImportSession

    struct Ready {
        let inputs: ImportInputs
        /// The connection that holds the advisory lock for the whole import.
        let control: Connection
        /// The schema serving now, if any.
        let live: String?
        /// The new, empty staging schema.
        let schema: String
    }

    func run() throws -> Ready {
        var readers: [CatalogFile: RecordReader] = [:]
        for file in CatalogFile.allCases {
            let path = (session.options.dataDirectory as NSString).appendingPathComponent(file.fileName)
            do { readers[file] = try RecordReader(file: file, path: path) } catch { throw ImportError.input(error.description) }
        }

        let control = try session.connect()
        // A hot standby would refuse the first write with "cannot execute ... in a read-only
        // transaction"; say what is wrong instead (scale-out: the importer writes to the primary).
        if control.isHotStandby {
            throw ImportError.database("the database at \(control.host):\(control.port) is a read-only standby (a streaming replica): run the import against the primary; nothing was changed")
        }
        do {
            let locked = try control.execute(CatalogSQL.tryAdvisoryLock, [String(CatalogSQL.advisoryLockKey)])
            guard locked.string(row: 0, column: 0) == "t" else { throw ImportError.alreadyRunning }
            try control.execute(CatalogSQL.ensureControlSchema)
        } catch let error as PostgresError {
            throw ImportError.database("database error: \(error.debugDescription)")
        }
        let live = (try? control.execute(CatalogSQL.liveSchema).string(row: 0, column: 0)) ?? nil
        try dropLeftovers(control, keeping: live)
        try checkDisk(control, live: live)

        let schema = CatalogSQL.stagingPrefix + Self.stamp()
        // If this fails (say the name exists), the schema is not ours and must not be dropped.
        do {
            try control.execute(CatalogSQL.createStaging(schema))
        } catch {
            throw ImportError.database("cannot create the staging schema \(schema): \(error.debugDescription)")
        }
        return Ready(inputs: ImportInputs(readers: readers), control: control, live: live, schema: schema)
    }

    /// Room for the new catalog beside the serving one (--database-disk): refused before the
    /// staging schema exists, so nothing changes. The leftovers are gone by now (their space is
    /// free again).
    private func checkDisk(_ conn: Connection, live: String?) throws {
        guard let path = session.options.databaseDisk else { return }
        guard let free = DiskCheck.freeBytes(at: path) else {
            throw ImportError.input("--database-disk \(path): cannot read its file system's free space; nothing was changed")
        }
        var exportBytes: UInt64 = 0
        for file in CatalogFile.allCases {
            let path = (session.options.dataDirectory as NSString).appendingPathComponent(file.fileName)
            exportBytes += ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.uint64Value ?? 0
        }
        var liveBytes: UInt64? = nil
        var walBytes: UInt64 = 1 << 30
        do {
            if let live {
                liveBytes = try conn.execute(CatalogSQL.schemaBytes, [live]).string(row: 0, column: 0).flatMap { UInt64($0) }
            }
            if let wal = try conn.execute(CatalogSQL.maxWalBytes).string(row: 0, column: 0).flatMap({ UInt64($0) }) { walBytes = wal }
        } catch {
            throw ImportError.database("database error: \(error.debugDescription)")
        }
        let check = DiskCheck(liveCatalogBytes: liveBytes, exportBytes: exportBytes, maxWalBytes: walBytes)
        if let refusal = check.refusal(free: free, path: path) { throw ImportError.input(refusal) }
        session.logger.info("disk: room for the import", metadata: [
            "path": "\(path)", "free": "\(DiskCheck.gigabytes(free))", "need": "\(DiskCheck.gigabytes(check.need))",
        ])
    }

    private func dropLeftovers(_ conn: Connection, keeping live: String?) throws {
        let result: QueryResult
        do { result = try conn.execute(CatalogSQL.leftoverSchemas) } catch {
            throw ImportError.database("database error: \(error.debugDescription)")
        }
        for row in 0..<result.rowCount {
            guard let name = result.string(row: row, column: 0), name != live else { continue }
            session.logger.info("dropping a leftover schema from an earlier import", metadata: ["schema": "\(name)"])
            dropSchemaPolitely(conn, name, session)
        }
    }

    /// Time for people, pid and a random part, so that two imports never share a name (two
    /// imports by one process within a second did).
    static func stamp() -> String {
        var t = timeval()
        gettimeofday(&t, nil)
        var tmv = tm()
        var secs = t.tv_sec
        gmtime_r(&secs, &tmv)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "\(tmv.tm_year + 1900)\(two(tmv.tm_mon + 1))\(two(tmv.tm_mday))_\(two(tmv.tm_hour))\(two(tmv.tm_min))\(two(tmv.tm_sec))_\(getpid())_\(random)"
    }
}

/// Drops an old catalog schema without waiting long for its readers; the next import retries.
func dropSchemaPolitely(_ conn: Connection, _ name: String, _ session: ImportSession) {
    do {
        try conn.execute(CatalogSQL.dropSchema(name, lockTimeout: "10s"))
    } catch {
        session.logger.warning("could not drop an old catalog schema now; the next import will", metadata: [
            "schema": "\(name)", "error": "\(error.debugDescription)",
        ])
    }
}
