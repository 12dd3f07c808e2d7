import CatalogCSV
import Foundation
import Postgres
import Synchronization

/// What the load phase did with one file.
struct LoadedFile: Sendable {
    var stats: FileStats
    /// related.csv: rows whose product is not loaded, counted while loading.
    var orphaned = 0
    var loadSeconds: Double = 0
    /// Grouped file: one staging row per parent.
    var parentsUnique = false
    /// Loaded row by row (its rows were not in (parent, id) order).
    var perRow = false
    /// styles, skus, photos: merged into product_styles while loading.
    var merged = false
}

/// Phase 2: every file read once (CSV bytes → checked fields → rendered rows → binary COPY)
/// into the staging schema's unlogged tables; jobs on parallel connections, largest first:
/// styles, skus and photos together (merged while read, see `StyleMerger`), then the other
/// files, product.csv before related.csv (which needs its ids).
struct LoadPhase {
    let session: ImportSession
    let schema: String
    let inputs: ImportInputs
    let rejects: RejectWriter

    struct Result: Sendable {
        var files: [CatalogFile: LoadedFile]
        var shape: CatalogSQL.Shape
    }

    private static let styleTree: [CatalogFile] = [.styles, .skus, .photos]

    /// What every load job shares.
    private struct Context: Sendable {
        let progress: [CatalogFile: FileProgress]
        let gates: [CatalogFile: RejectGate]
        let products: ProductIDsLatch
    }

    func run() throws -> Result {
        let progress = Dictionary(uniqueKeysWithValues: CatalogFile.allCases.map { ($0, FileProgress(file: $0, totalBytes: inputs.size($0))) })
        let context = Context(progress: progress,
                              gates: Dictionary(uniqueKeysWithValues: CatalogFile.allCases.map { ($0, RejectGate()) }),
                              products: ProductIDsLatch())
        var jobs: [(files: [CatalogFile], bytes: Int)] = [(Self.styleTree, Self.styleTree.reduce(0) { $0 + inputs.size($1) })]
        jobs += [CatalogFile.product, .features, .related].map { ([$0], inputs.size($0)) }
        jobs.sort { $0.bytes > $1.bytes }
        if let r = jobs.firstIndex(where: { $0.files == [.related] }), let p = jobs.firstIndex(where: { $0.files == [.product] }), p > r {
            jobs.insert(jobs.remove(at: p), at: r)
        }
        let results = Mutex<[CatalogFile: LoadedFile]>([:])
        let display = ProgressTicker(files: jobs.flatMap(\.files).map { progress[$0]! }, enabled: session.options.showProgress)
        defer { display.stop() }
        try runOnThreads(width: session.options.jobs, jobs.map { job in
            { @Sendable in
                let loaded = job.files == Self.styleTree ? try self.loadStyleTree(context) : try self.loadFile(job.files[0], context)
                results.withLock { $0.merge(loaded) { a, _ in a } }
            }
        })
        display.stop()
        let files = results.withLock { $0 }
        var shape = CatalogSQL.Shape()
        for (file, result) in files {
            if result.parentsUnique { shape.unique.insert(file) }
            if result.perRow { shape.perRow.insert(file) }
            if result.merged { shape.stylesMerged = true }
        }
        return Result(files: files, shape: shape)
    }

    /// What a producer thread hands back.
    private struct Produced: Sendable {
        var stats = FileStats()
        var orphaned = 0
        var parentsUnique = false
        var productIDs: ProductIDs?
    }

    /// Loads one file into its staging table: grouped per parent, or again row by row if its
    /// parents are out of order.
    private func loadFile(_ file: CatalogFile, _ context: Context, rowByRow: Bool = false) throws -> [CatalogFile: LoadedFile] {
        let p = context.progress[file]!
        var published = false
        defer { if file == .product && !published { context.products.publish(nil) } }
        let connection = try session.connect()
        var productIDs: ProductIDs? = nil
        if file == .related {
            guard let ids = context.products.wait() else { throw ImportError.cancelled }
            productIDs = ids
        }
        p.start()
        var mode: DocumentRows.Mode = CatalogSQL.groupedFiles.contains(file) && !rowByRow ? .grouped : .perRow
        let table = CatalogSQL.rawTable(file)
        let result = Shared(Produced())
        while true {
            do {
                try loadTransaction(connection, CatalogSQL.beginLoad(schema, table: table)) {
                    try copyThroughPipeline(connection, CatalogSQL.copyStatement(schema, table: table, columns: CatalogSQL.stagingColumns(file))) {
                        [mode, productIDs] queue in
                        try self.produceFile(file, mode: mode, products: productIDs, context: context, queue: queue, result: result)
                    }
                }
                break
            } catch is RowsOutOfOrder where mode == .grouped {
                mode = .perRow
                session.logger.warning("\(file.fileName) is not grouped by ascending \(CatalogSQL.parentColumn(file)): loading it again row by row (slower build)")
            }
        }
        let produced = result.withLock { $0 }
        if file == .product {
            context.products.publish(produced.productIDs)
            published = true
        }
        return [file: LoadedFile(stats: produced.stats, orphaned: produced.orphaned, loadSeconds: finished(p, produced.stats),
                                 parentsUnique: mode == .grouped && produced.parentsUnique, perRow: mode == .perRow)]
    }

    /// The producer side of `loadFile` (on its own thread): records, rendered rows, chunks.
    private func produceFile(_ file: CatalogFile, mode: DocumentRows.Mode, products: ProductIDs?, context: Context,
                             queue: ChunkQueue, result: Shared<Produced>) throws {
        let p = context.progress[file]!
        let reader = inputs.reader(file)
        // A second pass (rows out of order) starts over; the gate keeps rejects written once.
        do { try reader.rewind() } catch { throw ImportError.input(error.description) }
        let rows = DocumentRows(file: file, mode: mode, products: products)
        var pass = context.gates[file]!.pass()
        guard var out = queue.emptyBuffer() else { return }
        BinaryCopy.appendHeader(out)
        var more = true
        while more {
            try session.checkCancelled()
            more = try rows.read(reader, into: out, until: { $0.count >= chunkSize }) { reject in
                if pass.isNew() { self.session.reject(reject, to: self.rejects) }
            }
            if !more { BinaryCopy.appendTrailer(out) }
            guard queue.put(out) else { return }
            p.update(reader.stats)
            if more {
                guard let next = queue.emptyBuffer() else { return }
                out = next
            }
        }
        result.withLock { r in
            r.stats = reader.stats
            r.orphaned = rows.orphaned
            r.parentsUnique = rows.parentsUnique
            r.productIDs = file == .product ? rows.productIDs : nil
        }
    }

    /// styles.csv, skus.csv and photos.csv read together and merged into product_styles
    /// (see StyleMerger); when they are not in the order that needs, each is loaded into its
    /// own staging table instead and the build joins them in SQL.
    private func loadStyleTree(_ context: Context) throws -> [CatalogFile: LoadedFile] {
        let files = Self.styleTree
        let connection = try session.connect()
        for file in files { context.progress[file]!.start() }
        let result = Shared<[CatalogFile: FileStats]>([:])
        do {
            try loadTransaction(connection, CatalogSQL.beginLoad(schema, table: "product_styles")) {
                try copyThroughPipeline(connection, CatalogSQL.copyStatement(schema, table: "product_styles", columns: CatalogSQL.productStylesColumns)) { queue in
                    try self.produceMergedStyles(context, queue: queue, result: result)
                }
            }
        } catch let error as RowsOutOfOrder {
            session.logger.warning("\(error.file.fileName) is not in the export's order (styles by product and id, skus and photos by style): loading styles, skus and photos separately (slower build)")
            var loaded: [CatalogFile: LoadedFile] = [:]
            for file in files {
                // The file whose parents were out of order would fail grouping again.
                loaded.merge(try loadFile(file, context, rowByRow: file == error.file && file != .styles)) { a, _ in a }
            }
            return loaded
        }
        let stats = result.withLock { $0 }
        return Dictionary(uniqueKeysWithValues: files.map { file in
            (file, LoadedFile(stats: stats[file]!, loadSeconds: finished(context.progress[file]!, stats[file]!), merged: true))
        })
    }

    private func produceMergedStyles(_ context: Context, queue: ChunkQueue, result: Shared<[CatalogFile: FileStats]>) throws {
        var passes = context.gates.mapValues { $0.pass() }
        func source(_ file: CatalogFile) -> GroupSource {
            GroupSource(reader: inputs.reader(file), progress: context.progress[file]!) { reject in
                if passes[file]!.isNew() { self.session.reject(reject, to: self.rejects) }
            }
        }
        let styles = source(.styles), skus = source(.skus), photos = source(.photos)
        let merger = StyleMerger(styles: styles, skus: skus, photos: photos)
        guard let first = queue.emptyBuffer() else { return }
        try merger.run(into: first, chunkSize: chunkSize) { full, last in
            try self.session.checkCancelled()
            guard queue.put(full), !last else { return nil }
            return queue.emptyBuffer()
        }
        result.withLock { r in
            for source in [styles, skus, photos] { r[source.file] = source.reader.stats }
        }
    }

    /// One COPY in its own transaction; what stops it becomes the importer's error.
    private func loadTransaction(_ connection: Connection, _ begin: String, _ body: () throws -> Void) throws {
        do {
            try connection.execute(begin)
            try body()
            try connection.execute(CatalogSQL.commit)
        } catch {
            _ = try? connection.execute(CatalogSQL.rollback)
            switch error {
            case ImportError.cancelled:
                throw session.cancellation
            case let error as CSVFileError:
                throw ImportError.input(error.description)
            default:
                throw error
            }
        }
    }

    /// Marks the file done; its load time in seconds.
    private func finished(_ p: FileProgress, _ stats: FileStats) -> Double {
        p.finish()
        let seconds = p.seconds
        if !session.options.showProgress {
            session.logger.info("loaded \(p.file.fileName)", metadata: [
                "rows": "\(stats.rowsAccepted)", "rejected": "\(stats.rejected)", "repaired": "\(stats.repaired)",
                "seconds": "\(fixed(seconds, 1))",
            ])
        }
        return seconds
    }
}
