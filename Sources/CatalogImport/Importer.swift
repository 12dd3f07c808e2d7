import CatalogCSV
import Foundation
import Logging
import Postgres
import Synchronization

/// Loads the six CSV files into a fresh staging schema, builds the read model there and
/// swaps it in atomically. Until the swap commits, the API keeps serving the previous
/// catalog; if anything fails (or the process is killed) the staging schema is dropped
/// now or by the next run.
public final class Importer: Sendable {
    public let options: ImportOptions
    private let logger: Logger
    private let cancelled = Atomic<Bool>(false)
    private let totalRejected = Atomic<Int>(0)

    public init(options: ImportOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Asks a running import to stop at the next chunk (e.g. from a SIGINT handler).
    public func cancel() { cancelled.store(true, ordering: .relaxed) }

    public func run() throws -> ImportReport {
        let started = monotonicNanos()
        var report = ImportReport()
        report.startedAt = ISO8601DateFormatter().string(from: Date())
        report.rejectsFile = options.rejectsPath

        // 1. Every file present with the right header, before touching the database.
        var paths: [CatalogFile: String] = [:]
        var sizes: [CatalogFile: Int] = [:]
        for file in CatalogFile.allCases {
            let path = (options.dataDirectory as NSString).appendingPathComponent(file.fileName)
            do {
                let probe = try CopyTextConverter(file: file, path: path)
                sizes[file] = probe.totalBytes
            } catch {
                throw ImportError.input(error.description)
            }
            paths[file] = path
        }

        // 2. The database: reachable, one import at a time, leftovers cleaned.
        let control = try connect()
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
        let live = try? control.execute(CatalogSQL.liveSchema).string(row: 0, column: 0)
        try dropLeftovers(control, keeping: live ?? nil)

        let schema = CatalogSQL.stagingPrefix + Self.stamp()
        report.schema = schema
        logger.info("importing", metadata: ["data": "\(options.dataDirectory)", "schema": "\(schema)"])
        // Created outside the clean-up below: if this fails (say the name exists), the schema
        // is not ours and must not be dropped.
        do {
            try control.execute(CatalogSQL.createStaging(schema))
        } catch {
            throw ImportError.database("cannot create the staging schema \(schema): \(error.debugDescription)")
        }
        do {

            // 3. Load: read, repair, render JSON pieces, binary COPY; jobs on parallel
            //    connections, largest first: styles, skus and photos together (merged while
            //    read, see StyleMerger), then the other files, product.csv before related.csv
            //    (which needs its ids).
            var phase = monotonicNanos()
            let rejects = try RejectWriter(path: options.rejectsPath)
            let progress = Dictionary(uniqueKeysWithValues: CatalogFile.allCases.map { ($0, FileProgress(file: $0, totalBytes: sizes[$0]!)) })
            let gates = Dictionary(uniqueKeysWithValues: CatalogFile.allCases.map { ($0, RejectGate()) })
            let styleTree: [CatalogFile] = [.styles, .skus, .photos]
            var jobs: [(files: [CatalogFile], bytes: Int)] = [(styleTree, styleTree.reduce(0) { $0 + sizes[$1]! })]
            jobs += [CatalogFile.product, .features, .related].map { ([$0], sizes[$0]!) }
            jobs.sort { $0.bytes > $1.bytes }
            if let r = jobs.firstIndex(where: { $0.files == [.related] }), let p = jobs.firstIndex(where: { $0.files == [.product] }), p > r {
                jobs.insert(jobs.remove(at: p), at: r)
            }
            let summaries = Mutex<[CatalogFile: FileSummary]>([:])
            let shapes = Mutex(CatalogSQL.Shape())
            let productIDs = ProductIDsLatch()
            let display = startProgressDisplay(jobs.flatMap(\.files).map { progress[$0]! })
            defer { display.stop() }
            let filePaths = paths
            let context = LoadContext(schema: schema, paths: filePaths, rejects: rejects, gates: gates, progress: progress, products: productIDs)
            try runOnThreads(width: options.jobs, jobs.map { job in
                { @Sendable in
                    let loaded: [CatalogFile: LoadedFile]
                    if job.files == styleTree {
                        loaded = try self.loadStyleTree(context)
                    } else {
                        loaded = try self.loadFile(job.files[0], context)
                    }
                    for (file, result) in loaded {
                        summaries.withLock { $0[file] = result.summary }
                        shapes.withLock { shape in
                            if result.parentsUnique { shape.unique.insert(file) }
                            if result.perRow { shape.perRow.insert(file) }
                            if result.merged { shape.stylesMerged = true }
                        }
                    }
                }
            })
            display.stop()
            let loaded = summaries.withLock { $0 }
            let shape = shapes.withLock { $0 }
            report.files = CatalogFile.allCases.map { loaded[$0]! }
            report.phases.append(PhaseTiming(name: "load (read, repair, render JSON, COPY)", seconds: elapsed(since: phase)))
            try checkRejectRate(report)

            // 4. Build the read model (see CatalogSQL): keys and one row per parent, then the
            //    product documents, each connection rendering part of the products.
            phase = monotonicNanos()
            let styleSteps = (shape.stylesMerged ? "" : CatalogSQL.prepareChildren(schema, .photos, shape) + CatalogSQL.prepareChildren(schema, .skus, shape))
                + CatalogSQL.prepareProductStyles(schema, shape)
            let productSteps = CatalogSQL.prepareProducts(schema) + CatalogSQL.prepareChildren(schema, .features, shape)
                + CatalogSQL.prepareChildren(schema, .related, shape)
            try runOnThreads(width: options.jobs, [
                { @Sendable in
                    try self.build(schema, shape.stylesMerged ? "styles by product (index)" : "styles by product (from styles, skus, photos)",
                                   styleSteps, planner: CatalogSQL.productPlanSettings)
                },
                { @Sendable in try self.build(schema, "products, features and related by product", productSteps) },
            ])
            report.phases.append(PhaseTiming(name: "index staging, one row per product", seconds: elapsed(since: phase)))

            phase = monotonicNanos()
            try control.execute(CatalogSQL.createProductTable(schema))
            let products = report[.product]?.loaded ?? 0
            let parts = try productRanges(schema, parts: options.jobs, products: products, control)
            try runOnThreads(width: options.jobs, parts.map { part in
                { @Sendable in
                    try self.build(schema, "product documents \(part.label)",
                                   CatalogSQL.insertProducts(schema, shape, from: part.from, to: part.to, rankOffset: part.rankOffset),
                                   planner: CatalogSQL.productPlanSettings)
                }
            })
            report.phases.append(PhaseTiming(name: "render product documents", seconds: elapsed(since: phase)))

            phase = monotonicNanos()
            try runOnThreads(width: options.jobs, [
                { @Sendable in try self.build(schema, "statistics", CatalogSQL.analyzeProduct(schema)) },
            ])
            try fillLoadedCounts(&report, schema: schema, shape: shape, control)
            report.phases.append(PhaseTiming(name: "count, analyze", seconds: elapsed(since: phase)))
            guard (report[.product]?.loaded ?? 0) > 0 else { throw ImportError.emptyCatalog }
            if !options.keepStaging {
                try control.execute(CatalogSQL.dropStagingTables(schema))
            }

            // 5. Swap: one transaction re-points catalog.product; readers see old or new.
            phase = monotonicNanos()
            report.status = "ok"
            report.totalSeconds = elapsed(since: started)
            report.peakRSSBytes = peakRSS()
            // The last moment a stop request (Ctrl-C, SIGTERM) can still leave everything as it was.
            if cancelled.load(ordering: .relaxed) { throw ImportError.cancelled }
            try swap(schema, report: report, control)
            report.phases.append(PhaseTiming(name: "swap", seconds: elapsed(since: phase)))
        } catch {
            logger.error("import failed; dropping the staging schema", metadata: ["schema": "\(schema)"])
            _ = try? control.execute(CatalogSQL.dropSchema(schema))
            if let e = error as? PostgresError {
                throw ImportError.database("database error: \(e.debugDescription)")
            }
            throw error
        }

        // 6. The previous catalog is no longer referenced: drop it (or leave it to the next run).
        if let live = live ?? nil, live != schema {
            dropSchemaPolitely(control, live)
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

    // MARK: load

    struct LoadedFile: Sendable {
        var summary: FileSummary
        /// Grouped file: one staging row per parent.
        var parentsUnique = false
        /// Loaded row by row (its rows were not in (parent, id) order).
        var perRow = false
        /// styles, skus, photos: merged into product_styles while loading.
        var merged = false
    }

    /// What every load job shares.
    struct LoadContext: Sendable {
        let schema: String
        let paths: [CatalogFile: String]
        let rejects: RejectWriter
        let gates: [CatalogFile: RejectGate]
        let progress: [CatalogFile: FileProgress]
        let products: ProductIDsLatch
    }

    /// What a producer thread hands back.
    private struct Produced: Sendable {
        var stats = FileStats()
        var orphaned = 0
        var parentsUnique = false
        var productIDs: ProductIDs?
    }

    private func writeReject(_ reject: Reject, _ rejects: RejectWriter) {
        rejects.write(reject)
        let total = totalRejected.add(1, ordering: .relaxed).newValue
        if let limit = options.maxRejects, total > limit { cancelled.store(true, ordering: .relaxed) }
    }

    /// Maps what stops a load to the importer's errors (rolling back the COPY's transaction).
    private func loadTransaction(_ connection: Connection, _ begin: String, _ body: () throws -> Void) throws {
        do {
            try connection.execute(begin)
            try body()
            try connection.execute("COMMIT")
        } catch {
            _ = try? connection.execute("ROLLBACK")
            switch error {
            case ImportError.cancelled:
                let total = totalRejected.load(ordering: .relaxed)
                if let limit = options.maxRejects, total > limit { throw ImportError.tooManyRejects(rejected: total, limit: String(limit)) }
                throw ImportError.cancelled
            case let error as CSVFileError:
                throw ImportError.input(error.description)
            default:
                throw error
            }
        }
    }

    private func started(_ p: FileProgress) {
        p.startedAt.store(monotonicNanos(), ordering: .relaxed)
        p.phase.store(1, ordering: .relaxed)
    }

    private func summary(_ p: FileProgress, _ produced: Produced) -> FileSummary {
        p.finishedAt.store(monotonicNanos(), ordering: .relaxed)
        p.phase.store(2, ordering: .relaxed)
        let stats = produced.stats
        var summary = FileSummary(file: p.file.fileName)
        summary.bytes = stats.bytesRead
        summary.read = stats.rowsRead
        summary.loaded = stats.rowsAccepted  // refined after the build (orphans, drops)
        summary.repaired = stats.repaired
        summary.rejected = stats.rejected
        summary.orphaned = produced.orphaned  // related.csv: counted while loading
        summary.loadSeconds = Double(p.finishedAt.load(ordering: .relaxed) - p.startedAt.load(ordering: .relaxed)) / 1e9
        if !options.showProgress {
            logger.info("loaded \(p.file.fileName)", metadata: [
                "rows": "\(stats.rowsAccepted)", "rejected": "\(stats.rejected)", "repaired": "\(stats.repaired)",
                "seconds": "\(fixed(summary.loadSeconds, 1))",
            ])
        }
        return summary
    }

    /// Loads one file into its staging table: grouped per parent, or again row by row if its
    /// parents are out of order.
    private func loadFile(_ file: CatalogFile, _ context: LoadContext, rowByRow: Bool = false) throws -> [CatalogFile: LoadedFile] {
        let p = context.progress[file]!
        var published = false
        defer { if file == .product && !published { context.products.publish(nil) } }
        let connection = try connect()
        var productIDs: ProductIDs? = nil
        if file == .related {
            guard let ids = context.products.wait() else { throw ImportError.cancelled }
            productIDs = ids
        }
        if p.startedAt.load(ordering: .relaxed) == 0 { started(p) }
        var mode: DocumentRows.Mode = CatalogSQL.groupedFiles.contains(file) && !rowByRow ? .grouped : .perRow
        let table = CatalogSQL.rawTable(file)
        let result = Shared(Produced())
        while true {
            do {
                try loadTransaction(connection, CatalogSQL.beginLoad(context.schema, table: table)) {
                    try copyThroughPipeline(connection, CatalogSQL.copyStatement(context.schema, table: table, columns: CatalogSQL.stagingColumns(file))) {
                        [mode, productIDs] queue in
                        try self.produceFile(file, mode: mode, products: productIDs, context: context, queue: queue, result: result)
                    }
                }
                break
            } catch is RowsOutOfOrder where mode == .grouped {
                mode = .perRow
                logger.warning("\(file.fileName) is not grouped by ascending \(CatalogSQL.parentColumn(file)): loading it again row by row (slower build)")
            }
        }
        let produced = result.withLock { $0 }
        if file == .product {
            context.products.publish(produced.productIDs)
            published = true
        }
        return [file: LoadedFile(summary: summary(p, produced), parentsUnique: mode == .grouped && produced.parentsUnique, perRow: mode == .perRow)]
    }

    /// The producer side of `loadFile` (on its own thread): converter, JSON pieces, chunks.
    private func produceFile(_ file: CatalogFile, mode: DocumentRows.Mode, products: ProductIDs?, context: LoadContext,
                             queue: ChunkQueue, result: Shared<Produced>) throws {
        let p = context.progress[file]!
        let converter: CopyTextConverter
        do { converter = try CopyTextConverter(file: file, path: context.paths[file]!) } catch { throw ImportError.input(error.description) }
        let rows = DocumentRows(file: file, mode: mode, products: products)
        var pass = context.gates[file]!.pass()
        var chunk: [UInt8] = []
        chunk.reserveCapacity(CopyWriter.chunkSize + (1 << 16))
        let out = ByteBuffer(capacity: 2 * CopyWriter.chunkSize)
        BinaryCopy.appendHeader(out)
        var more = true
        while more {
            if cancelled.load(ordering: .relaxed) { throw ImportError.cancelled }
            chunk.removeAll(keepingCapacity: true)
            more = try converter.fill(&chunk, minimumBytes: CopyWriter.chunkSize) { reject in
                if pass.isNew() { self.writeReject(reject, context.rejects) }
            }
            try chunk.withUnsafeBufferPointer { try rows.consume($0, into: out) }
            if !more {
                rows.finish(into: out)
                BinaryCopy.appendTrailer(out)
            }
            guard queue.put(Array(out.bytes)) else { return }
            out.removeAll()
            p.bytes.store(converter.stats.bytesRead, ordering: .relaxed)
            p.rows.store(converter.stats.rowsRead, ordering: .relaxed)
        }
        result.withLock { r in
            r.stats = converter.stats
            r.orphaned = rows.orphaned
            r.parentsUnique = rows.parentsUnique
            r.productIDs = file == .product ? rows.productIDs : nil
        }
    }

    /// styles.csv, skus.csv and photos.csv read together and merged into product_styles
    /// (see StyleMerger); when they are not in the order that needs, each is loaded into its
    /// own staging table instead and the build joins them in SQL.
    private func loadStyleTree(_ context: LoadContext) throws -> [CatalogFile: LoadedFile] {
        let files: [CatalogFile] = [.styles, .skus, .photos]
        let connection = try connect()
        for file in files { started(context.progress[file]!) }
        let result = Shared<[CatalogFile: Produced]>([:])
        do {
            try loadTransaction(connection, CatalogSQL.beginLoad(context.schema, table: "product_styles")) {
                try copyThroughPipeline(connection, CatalogSQL.copyStatement(context.schema, table: "product_styles", columns: CatalogSQL.productStylesColumns)) { queue in
                    try self.produceMergedStyles(context, queue: queue, result: result)
                }
            }
        } catch let error as RowsOutOfOrder {
            logger.warning("\(error.file.fileName) is not in the export's order (styles by product and id, skus and photos by style): loading styles, skus and photos separately (slower build)")
            var loaded: [CatalogFile: LoadedFile] = [:]
            for file in files {
                // The file whose parents were out of order would fail grouping again.
                loaded.merge(try loadFile(file, context, rowByRow: file == error.file && file != .styles)) { a, _ in a }
            }
            return loaded
        }
        let produced = result.withLock { $0 }
        return Dictionary(uniqueKeysWithValues: files.map { file in
            (file, LoadedFile(summary: summary(context.progress[file]!, produced[file]!), merged: true))
        })
    }

    private func produceMergedStyles(_ context: LoadContext, queue: ChunkQueue, result: Shared<[CatalogFile: Produced]>) throws {
        var passes = context.gates.mapValues { $0.pass() }
        func source(_ file: CatalogFile) throws -> GroupSource {
            try GroupSource(file: file, path: context.paths[file]!, progress: context.progress[file]!) { reject in
                if passes[file]!.isNew() { self.writeReject(reject, context.rejects) }
            }
        }
        let styles = try source(.styles), skus = try source(.skus), photos = try source(.photos)
        let merger = StyleMerger(styles: styles, skus: skus, photos: photos)
        let out = ByteBuffer(capacity: 2 * CopyWriter.chunkSize)
        try merger.run(into: out, chunkSize: CopyWriter.chunkSize) { out in
            if self.cancelled.load(ordering: .relaxed) { throw ImportError.cancelled }
            return queue.put(Array(out.bytes))
        }
        result.withLock { r in
            for source in [styles, skus, photos] {
                r[source.file] = Produced(stats: source.converter.stats)
            }
        }
    }

    private func checkRejectRate(_ report: ImportReport) throws {
        let rejected = report.totalRejected
        if let limit = options.maxRejects, rejected > limit {
            throw ImportError.tooManyRejects(rejected: rejected, limit: String(limit))
        }
        let read = max(report.totalRead, 1)
        if Double(rejected) / Double(read) > options.maxRejectRate {
            throw ImportError.tooManyRejects(rejected: rejected, limit: "\(options.maxRejectRate * 100)% of \(read) rows")
        }
    }

    // MARK: build

    private func build(_ schema: String, _ what: String, _ sql: String, planner: String = "") throws {
        if cancelled.load(ordering: .relaxed) { throw ImportError.cancelled }
        let conn = try connect()
        let start = monotonicNanos()
        try conn.execute(CatalogSQL.buildSessionSettings + planner)
        try conn.execute(sql)
        logger.info("built \(what)", metadata: ["seconds": "\(fixed(elapsed(since: start), 1))"])
    }

    struct ProductRange: Sendable {
        var from: Int?
        var to: Int?
        var rankOffset: Int
        var label: String
    }

    /// Splits the products into `parts` id ranges of equal size.
    private func productRanges(_ schema: String, parts: Int, products: Int, _ conn: Connection) throws -> [ProductRange] {
        let parts = max(1, min(parts, products))
        var bounds: [(id: Int, offset: Int)] = []
        for i in 1..<max(parts, 1) {
            let offset = products * i / parts
            guard let id = try conn.execute(CatalogSQL.productSplit(schema), [String(offset)]).int(row: 0, column: 0) else { break }
            bounds.append((id, offset))
        }
        var ranges: [ProductRange] = []
        var from: Int? = nil
        var offset = 0
        for (i, b) in bounds.enumerated() {
            ranges.append(ProductRange(from: from, to: b.id, rankOffset: offset, label: "\(i + 1)/\(bounds.count + 1)"))
            from = b.id
            offset = b.offset
        }
        ranges.append(ProductRange(from: from, to: nil, rankOffset: offset, label: "\(bounds.count + 1)/\(bounds.count + 1)"))
        return ranges
    }

    private func fillLoadedCounts(_ report: inout ImportReport, schema: String, shape: CatalogSQL.Shape, _ conn: Connection) throws {
        try conn.execute(CatalogSQL.buildSessionSettings)
        let r = try conn.execute(CatalogSQL.loadedCounts(schema, shape))
        let value = { (c: Int) in r.int(row: 0, column: c) ?? 0 }
        let loaded: [CatalogFile: Int] = [
            .product: value(0), .features: value(1), .styles: value(2), .skus: value(3), .photos: value(4), .related: value(5),
        ]
        for i in report.files.indices {
            guard let file = CatalogFile(rawValue: String(report.files[i].file.dropLast(4))) else { continue }
            let accepted = report.files[i].read - report.files[i].rejected
            report.files[i].loaded = loaded[file] ?? 0
            if file == .related {
                // Orphans were counted while loading; what else did not load was dropped.
                report.files[i].dropped = accepted - report.files[i].orphaned - report.files[i].loaded
            } else {
                report.files[i].orphaned = accepted - report.files[i].loaded
            }
        }
    }

    // MARK: swap and cleanup

    private func swap(_ schema: String, report: ImportReport, _ conn: Connection) throws {
        var apiRole: String? = nil
        if let role = options.apiRole {
            let exists = try conn.execute(CatalogSQL.roleExists, [role]).rowCount == 1
            if exists { apiRole = conn.quoteIdentifier(role) } else {
                logger.warning("role \(role) does not exist: the API cannot read the catalog until it is granted SELECT on catalog.product (Deploy/sql/roles.sql creates it)")
            }
        }
        let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        var attempt = 0
        while true {
            do {
                try conn.execute(CatalogSQL.swap(schema, apiRole: apiRole, reportLiteral: conn.quoteLiteral(json)))
                logger.notice("catalog swapped in: generation \(CatalogSQL.generation(ofSchema: schema)) (responses' ETags name it)")
                return
            } catch {
                // lock_timeout: a long reader holds the view; readers are bounded by their
                // statement_timeout, so waiting a little and retrying converges.
                guard error.isLockNotAvailable, attempt < 5 else { throw error }
                _ = try? conn.execute("ROLLBACK")
                attempt += 1
                logger.warning("swap waited for readers; retrying", metadata: ["attempt": "\(attempt)"])
            }
        }
    }

    private func dropLeftovers(_ conn: Connection, keeping live: String?) throws {
        let result: QueryResult
        do { result = try conn.execute(CatalogSQL.leftoverSchemas) } catch {
            throw ImportError.database("database error: \(error.debugDescription)")
        }
        for row in 0..<result.rowCount {
            guard let name = result.string(row: row, column: 0), name != live else { continue }
            logger.info("dropping a leftover schema from an earlier import", metadata: ["schema": "\(name)"])
            dropSchemaPolitely(conn, name)
        }
    }

    private func dropSchemaPolitely(_ conn: Connection, _ name: String) {
        do {
            try conn.execute(CatalogSQL.dropSchema(name, lockTimeout: "10s"))
        } catch {
            logger.warning("could not drop an old catalog schema now; the next import will", metadata: [
                "schema": "\(name)", "error": "\(error.debugDescription)",
            ])
        }
    }

    // MARK: helpers

    private func connect() throws -> Connection {
        do {
            let c = try Connection(conninfo: options.database, overrides: ["application_name": "products-import", "connect_timeout": "10"])
            return c
        } catch {
            throw ImportError.database("cannot connect to the database, nothing was changed (the catalog that is serving stays as it is): \(error.detail.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " "))")
        }
    }

    private func startProgressDisplay(_ files: [FileProgress]) -> ProgressTicker {
        ProgressTicker(files: files, enabled: options.showProgress)
    }

    static func stamp() -> String {
        var t = timeval()
        gettimeofday(&t, nil)
        var tmv = tm()
        var secs = t.tv_sec
        gmtime_r(&secs, &tmv)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        // Time for people, pid and a random part so that two imports never share a name
        // (two imports by one process within a second did).
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "\(tmv.tm_year + 1900)\(two(tmv.tm_mon + 1))\(two(tmv.tm_mday))_\(two(tmv.tm_hour))\(two(tmv.tm_min))\(two(tmv.tm_sec))_\(getpid())_\(random)"
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
