import CatalogCSV
import Postgres

/// Phase 3: the read model, built in the staging schema from the loaded rows (see CatalogSQL):
/// keys and one row per parent, then the product documents, each connection rendering part of
/// the products, then their gzip (GzipPhase); statistics; and what made it into the catalog,
/// counted.
struct BuildPhase {
    let session: ImportSession
    let schema: String
    let shape: CatalogSQL.Shape
    /// Products accepted by the load (the document build splits them into ranges).
    let products: Int

    struct Result {
        /// Rows of each file in the built catalog.
        var loaded: [CatalogFile: Int]
        var phases: [PhaseTiming]
    }

    func run(_ control: Connection) throws -> Result {
        var phases: [PhaseTiming] = []
        var phase = monotonicNanos()
        let styleSteps = (shape.stylesMerged ? "" : CatalogSQL.prepareChildren(schema, .photos, shape) + CatalogSQL.prepareChildren(schema, .skus, shape))
            + CatalogSQL.prepareProductStyles(schema, shape)
        let productSteps = CatalogSQL.prepareProducts(schema) + CatalogSQL.prepareChildren(schema, .features, shape)
            + CatalogSQL.prepareChildren(schema, .related, shape)
        try runOnThreads(width: session.options.jobs, [
            { @Sendable [session, shape] in
                try session.build(shape.stylesMerged ? "styles by product (index)" : "styles by product (from styles, skus, photos)",
                                  styleSteps, planner: CatalogSQL.productPlanSettings)
            },
            { @Sendable [session] in try session.build("products, features and related by product", productSteps) },
        ])
        phases.append(PhaseTiming(name: "index staging, one row per product", seconds: elapsed(since: phase)))

        phase = monotonicNanos()
        try control.execute(CatalogSQL.createProductTable(schema))
        let parts = try productRanges(parts: session.options.jobs, control)
        try runOnThreads(width: session.options.jobs, parts.map { part in
            { @Sendable [session, schema, shape] in
                try session.build("product documents \(part.label)",
                                  CatalogSQL.insertProducts(schema, shape, from: part.from, to: part.to, rankOffset: part.rankOffset),
                                  planner: CatalogSQL.productPlanSettings)
            }
        })
        phases.append(PhaseTiming(name: "render product documents", seconds: elapsed(since: phase)))

        phase = monotonicNanos()
        try control.execute(CatalogSQL.createGzipTable(schema))
        let counts = zip(parts.map(\.rankOffset), parts.dropFirst().map(\.rankOffset) + [products]).map { $1 - $0 }
        _ = try GzipPhase(session: session, schema: schema).run(parts: zip(parts, counts).map { ($0.from, $0.to, $1, $0.label) })
        phases.append(PhaseTiming(name: "gzip documents", seconds: elapsed(since: phase)))

        phase = monotonicNanos()
        try session.build("statistics", CatalogSQL.analyzeProduct(schema))
        let loaded = try loadedCounts(control)
        phases.append(PhaseTiming(name: "count, analyze", seconds: elapsed(since: phase)))
        return Result(loaded: loaded, phases: phases)
    }

    private struct ProductRange: Sendable {
        var from: Int?
        var to: Int?
        var rankOffset: Int
        var label: String
    }

    /// Splits the products into `parts` id ranges of equal size.
    private func productRanges(parts: Int, _ conn: Connection) throws -> [ProductRange] {
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

    private func loadedCounts(_ conn: Connection) throws -> [CatalogFile: Int] {
        try conn.execute(CatalogSQL.buildSessionSettings)
        let r = try conn.execute(CatalogSQL.loadedCounts(schema, shape))
        let value = { (c: Int) in r.int(row: 0, column: c) ?? 0 }
        return [.product: value(0), .features: value(1), .styles: value(2), .skus: value(3), .photos: value(4), .related: value(5)]
    }
}

extension FileSummary {
    /// A file's line of the report, from what the load read and the build kept: whatever was
    /// accepted and is not in the catalog is an orphan (no parent loaded) or, for related.csv,
    /// dropped (0, unknown or itself as target, a repeated pair).
    init(_ file: CatalogFile, _ load: LoadedFile, loaded: Int) {
        self.init(file: file.fileName)
        bytes = load.stats.bytesRead
        read = load.stats.rowsRead
        repaired = load.stats.repaired
        rejected = load.stats.rejected
        self.loaded = loaded
        let accepted = load.stats.rowsAccepted
        if file == .related {
            orphaned = load.orphaned
            dropped = accepted - orphaned - loaded
        } else {
            orphaned = accepted - loaded
        }
        loadSeconds = load.loadSeconds
    }
}
