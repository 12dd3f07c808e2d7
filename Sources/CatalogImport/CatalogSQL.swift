import CatalogCSV

/// The SQL of an import, in one place.
///
/// Layout in the database:
/// - schema `catalog` (stable; what the API reads): the view `catalog.product` and the
///   table `catalog.import_history` (one row per finished import; the newest names the
///   live schema).
/// - schema `catalog_import_<stamp>`: one per import. It is built while the old catalog
///   keeps serving, then `catalog.product` is re-pointed at it in one transaction.
///
/// The read model is one row per product with every response body pre-rendered, so each
/// route is one primary-key lookup (the list route a range scan over `rank`). See
/// docs/database-design.md for why.
enum CatalogSQL {
    static let controlSchema = "catalog"
    static let stagingPrefix = "catalog_import_"
    /// Key for pg_advisory_lock: one import at a time per database.
    static let advisoryLockKey: Int64 = 0x5052_4F44_494D_5054  // "PRODIMPT"
    /// One import at a time: $1 is ``advisoryLockKey``; held for the session.
    static let tryAdvisoryLock = "SELECT pg_try_advisory_lock($1)"

    static let databaseSize = "SELECT pg_database_size(current_database())"
    /// Tables and materialized views of the schema $1, with their indexes and TOAST.
    static let schemaSize = """
        SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')
        """
    static let roleExists = "SELECT 1 FROM pg_roles WHERE rolname = $1"

    /// An identifier quoted for SQL. The import's own schema names are generated
    /// (`catalog_import_<stamp>`: lowercase, digits, underscores) and appear bare everywhere
    /// else here; a name read back from the database (a leftover) is quoted before a DROP.
    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    /// Drops an import's schema (a staging one that failed, or an old catalog). With a lock
    /// timeout, a reader still holding it makes the drop fail instead of waiting behind it.
    static func dropSchema(_ schema: String, lockTimeout: String? = nil) -> String {
        let drop = "DROP SCHEMA IF EXISTS \(quoted(schema)) CASCADE"
        guard let lockTimeout else { return drop }
        return "SET lock_timeout = '\(lockTimeout)'; \(drop); RESET lock_timeout"
    }

    static func rawTable(_ file: CatalogFile) -> String { "raw_\(file.rawValue)" }

    /// The staging columns of each file, as `DocumentRows` writes them (binary COPY: every
    /// column is `integer` or `text`).
    static func stagingColumns(_ file: CatalogFile) -> [(name: String, type: String)] {
        switch file {
        case .product: [("id", "integer"), ("head", "text")]
        case .styles: [("id", "integer"), ("product_id", "integer"), ("head", "text")]
        case .features, .skus, .photos, .related:
            [(parentColumn(file), "integer"), ("first_id", "integer"), ("n", "integer"), ("items", "text")]
        }
    }

    /// Staged per product when styles, skus and photos are merged while loading (see
    /// `StyleMerger`), or built from their own staging tables in SQL otherwise.
    static let productStylesColumns: [(name: String, type: String)] = [
        ("product_id", "integer"), ("n_styles", "integer"), ("n_skus", "integer"), ("n_photos", "integer"), ("doc", "text"),
    ]

    /// The grouped files and the column their rows are grouped by.
    static let groupedFiles: [CatalogFile] = [.features, .skus, .photos, .related]

    static func parentColumn(_ file: CatalogFile) -> String {
        switch file {
        case .skus, .photos: "style_id"
        default: "product_id"
        }
    }

    /// Unlogged: staging tables are rebuilt from the CSVs if anything goes wrong, so
    /// they need no WAL. No indexes during COPY. No autovacuum: they are written once, frozen
    /// (see `beginLoad`), read by the build and dropped; a vacuum of them would only compete
    /// with the build for the two cores.
    static func createStaging(_ s: String) -> String {
        var sql = "CREATE SCHEMA \(s);\n"
        for file in CatalogFile.allCases {
            let cols = stagingColumns(file).map { "\($0.name) \($0.type)" }.joined(separator: ", ")
            sql += "CREATE UNLOGGED TABLE \(s).\(rawTable(file)) (\(cols)) WITH (autovacuum_enabled = off);\n"
        }
        let cols = productStylesColumns.map { "\($0.name) \($0.type)" }.joined(separator: ", ")
        sql += "CREATE UNLOGGED TABLE \(s).product_styles (\(cols)) WITH (autovacuum_enabled = off);\n"
        sql += "ALTER TABLE \(s).product_styles ALTER doc SET STORAGE MAIN;\n"
        return sql
    }

    /// Each file loads in its own transaction that empties the table first: a file loaded
    /// again (rows out of order, see `DocumentRows`) starts clean, and `FREEZE` writes the rows
    /// already frozen and all-visible, so the build's first scans set no hint bits (no second
    /// write of every page).
    static func beginLoad(_ s: String, table: String) -> String {
        "BEGIN; TRUNCATE \(s).\(table);"
    }

    static func copyStatement(_ s: String, table: String, columns: [(name: String, type: String)]) -> String {
        let cols = columns.map(\.name).joined(separator: ", ")
        return "COPY \(s).\(table) (\(cols)) FROM STDIN WITH (FORMAT binary, FREEZE)"
    }

    static let commit = "COMMIT"
    static let rollback = "ROLLBACK"

    /// Settings for the build sessions.
    /// - `max_parallel_workers_per_gather = 0`: string_agg gets its input from ORDER BY
    ///   subqueries (one sort, or an index, instead of a sort per group), which PostgreSQL
    ///   honours in a plain plan; a parallel (Gather) plan would not keep that order.
    /// - `synchronous_commit = off`: a crash mid-build loses the staging schema anyway; the
    ///   swap sets it back on for its own commit.
    static let buildSessionSettings = """
        SET work_mem = '256MB';
        SET maintenance_work_mem = '1GB';
        SET statement_timeout = 0;
        SET jit = off;
        SET max_parallel_workers_per_gather = 0;
        SET synchronous_commit = off;
        """

    // MARK: build steps (see BuildPhase for the order and the connections)

    /// How each grouped file came out of the load.
    struct Shape: Sendable {
        /// Grouped files where every parent has exactly one staging row.
        var unique: Set<CatalogFile> = []
        /// Files loaded row by row (their rows were not in (parent, id) order).
        var perRow: Set<CatalogFile> = []
        /// styles, skus and photos were merged while loading: product_styles is filled.
        var stylesMerged = false

        /// The table with one row per parent: the staging table itself, or its aggregate.
        func table(_ s: String, _ file: CatalogFile) -> String {
            unique.contains(file) ? "\(s).\(rawTable(file))" : "\(s).\(file.rawValue)_by_parent"
        }
    }

    /// One row per parent for a grouped file: an index when the load already gave that,
    /// otherwise the runs are joined in SQL in `first_id` order (each run's `items` is a JSON
    /// container; its brackets come off, the pieces are joined, the brackets go back on).
    /// Repeated related pairs of a file loaded row by row are dropped here (the lowest id wins).
    static func prepareChildren(_ s: String, _ file: CatalogFile, _ shape: Shape) -> String {
        let parent = parentColumn(file)
        let raw = "\(s).\(rawTable(file))"
        if shape.unique.contains(file) {
            return """
                CREATE UNIQUE INDEX ON \(raw) (\(parent)) INCLUDE (n);
                ANALYZE \(raw);
                """
        }
        let (open, close) = LegacyDocuments.sqlBrackets(file)
        var source = raw
        if file == .related && shape.perRow.contains(file) {
            source = """
                (SELECT DISTINCT ON (\(parent), items) \(parent), first_id, n, items
                   FROM \(raw) ORDER BY \(parent), items, first_id)
                """
        }
        let table = shape.table(s, file)
        return """
            CREATE UNLOGGED TABLE \(table) WITH (autovacuum_enabled = off) AS
              SELECT \(parent), sum(n)::integer AS n,
                     \(open) || string_agg(substr(items, 2, length(items) - 2), ',') || \(close) AS items
              FROM (SELECT * FROM \(source) runs ORDER BY \(parent), first_id) ordered
              GROUP BY \(parent);
            CREATE UNIQUE INDEX ON \(table) (\(parent)) INCLUDE (n);
            ANALYZE \(table);
            """
    }

    /// The product primary key.
    static func prepareProducts(_ s: String) -> String {
        """
        ALTER TABLE \(s).raw_product ADD PRIMARY KEY (id);
        ANALYZE \(s).raw_product;
        """
    }

    /// One row per product with its `styles_doc`: indexed when the load merged the styles,
    /// otherwise rendered here from the styles, skus and photos staging tables (run
    /// `prepareChildren` for skus and photos first, and with `productPlanSettings`): styles in
    /// (product_id, id) order from their index, each style's photos and skus by their unique
    /// index, so nothing big is ever sorted.
    static func prepareProductStyles(_ s: String, _ shape: Shape) -> String {
        let index = """
            CREATE UNIQUE INDEX ON \(s).product_styles (product_id) INCLUDE (n_styles, n_skus, n_photos);
            ANALYZE \(s).product_styles;
            """
        if shape.stylesMerged { return index }
        return """
            CREATE INDEX ON \(s).raw_styles (product_id, id);
            ANALYZE \(s).raw_styles;
            INSERT INTO \(s).product_styles (product_id, n_styles, n_skus, n_photos, doc)
            SELECT product_id, count(*), sum(skus_n), sum(photos_n),
                   \(L.sqlLiteral(L.stylesDocumentOpen)) || product_id || \(L.sqlLiteral(L.stylesResultsOpen))
                     || string_agg(doc, ',') || \(L.sqlLiteral(L.stylesDocumentClose))
            FROM (
              SELECT st.product_id, coalesce(k.n, 0) AS skus_n, coalesce(ph.n, 0) AS photos_n,
                     st.head || coalesce(ph.items, \(L.sqlLiteral(L.noPhotos)))
                       || \(L.sqlLiteral(L.skusKey)) || coalesce(k.items, \(L.sqlLiteral(L.noSkus))) || \(L.sqlLiteral(L.styleClose)) AS doc
              FROM \(s).raw_styles st
              LEFT JOIN \(shape.table(s, .photos)) ph ON ph.style_id = st.id
              LEFT JOIN \(shape.table(s, .skus)) k ON k.style_id = st.id
              ORDER BY st.product_id, st.id
            ) styles
            GROUP BY product_id;
            \(index)
            """
    }

    /// The served table: one row per product, every response body pre-rendered. Its indexes
    /// exist before the rows go in (two connections fill it, each half of the products).
    /// The documents are compressed in the row (`STORAGE MAIN`) rather than moved to the TOAST
    /// table: a row is ~2.3 KB compressed, so a lookup reads one heap page and no TOAST index,
    /// and the build writes one tuple per product instead of a tuple, a TOAST chunk and a
    /// TOAST index entry (measured: 13.3 s instead of 15.1 s for half the products).
    static func createProductTable(_ s: String) -> String {
        """
        CREATE TABLE \(s).product (
          id          integer PRIMARY KEY,
          rank        integer NOT NULL,
          list_doc    text NOT NULL,
          product_doc text NOT NULL,
          styles_doc  text NOT NULL,
          related_doc text NOT NULL
        );
        CREATE UNIQUE INDEX product_rank ON \(s).product (rank);
        ALTER TABLE \(s).product ALTER list_doc SET STORAGE MAIN, ALTER product_doc SET STORAGE MAIN,
          ALTER styles_doc SET STORAGE MAIN, ALTER related_doc SET STORAGE MAIN;
        """
    }

    /// The documents for clients that accept gzip, one row per product of `product`: each
    /// column holds the gzip of the document (RFC 1952, made once by the importer's gzip
    /// phase) or, where that would not be smaller, the document itself; the first two bytes
    /// tell which (``Gzip/isGzip(_:)``). A table of its own, written by COPY after `product`
    /// is complete, rather than columns of `product`, which would have to be UPDATEd (every
    /// row written twice). STORAGE MAIN: compressed bytes do not compress again, and a row
    /// stays in its heap page (no TOAST lookup) as in `product`.
    static func createGzipTable(_ s: String) -> String {
        """
        CREATE TABLE \(s).product_gzip (
          id          integer PRIMARY KEY,
          product_doc bytea NOT NULL,
          styles_doc  bytea NOT NULL,
          related_doc bytea NOT NULL
        );
        ALTER TABLE \(s).product_gzip ALTER product_doc SET STORAGE MAIN, ALTER styles_doc SET STORAGE MAIN,
          ALTER related_doc SET STORAGE MAIN;
        """
    }

    /// `from <= column < to` as SQL (nil: that side unbounded; `true` when both are).
    static func idRange(_ column: String, from: Int?, to: Int?) -> String {
        var range: [String] = []
        if let from { range.append("\(column) >= \(from)") }
        if let to { range.append("\(column) < \(to)") }
        return range.isEmpty ? "true" : range.joined(separator: " AND ")
    }

    /// The documents of the products with `from <= id < to`, in id order, for the gzip phase
    /// (binary COPY: the text as it is, no escaping).
    static func copyDocuments(_ s: String, from: Int?, to: Int?) -> String {
        """
            COPY (SELECT id, product_doc, styles_doc, related_doc FROM \(s).product
                  WHERE \(idRange("id", from: from, to: to)) ORDER BY id)
            TO STDOUT (FORMAT binary)
            """
    }

    static func copyGzipDocuments(_ s: String) -> String {
        "COPY \(s).product_gzip (id, product_doc, styles_doc, related_doc) FROM STDIN (FORMAT binary)"
    }

    /// The first product id of the second half (nil: fewer than two products).
    static func productSplit(_ s: String) -> String {
        "SELECT id FROM \(s).raw_product ORDER BY id OFFSET $1 LIMIT 1"
    }

    /// Extra settings for the statements that join big staging tables (`insertProducts`,
    /// `prepareProductStyles`): their plans must be index scans, merge joins and nested loops.
    /// Left to itself the planner hashed skus and photos and sorted the joined styles by
    /// product: at scale 0.1 that spilled 260 MB to disk; at full scale gigabytes.
    static let productPlanSettings = """
        SET enable_hashjoin = off;
        SET enable_sort = off;
        """

    private typealias L = LegacyDocuments

    /// Renders the products with `from <= id < to` (nil: unbounded) into the served table;
    /// `rankOffset` is the number of products before `from`. Every piece is already JSON:
    /// a product is its head and its features, its styles document, its related ids. The plan
    /// this is written for: merge joins of four indexes in product id order (pinned by
    /// `productPlanSettings`).
    static func insertProducts(_ s: String, _ shape: Shape, from: Int?, to: Int?, rankOffset: Int) -> String {
        """
            INSERT INTO \(s).product (id, rank, list_doc, product_doc, styles_doc, related_doc)
            SELECT p.id,
                   \(rankOffset) + row_number() OVER (ORDER BY p.id),
                   p.head || \(L.sqlLiteral(L.productClose)),
                   p.head || \(L.sqlLiteral(L.featuresKey)) || coalesce(f.items, \(L.sqlLiteral(L.emptyArray))) || \(L.sqlLiteral(L.productClose)),
                   coalesce(ps.doc, \(L.sqlLiteral(L.stylesDocumentOpen)) || p.id || \(L.sqlLiteral(L.stylesResultsOpen)) || \(L.sqlLiteral(L.stylesDocumentClose))),
                   coalesce(r.items, \(L.sqlLiteral(L.emptyArray)))
            FROM \(s).raw_product p
            LEFT JOIN \(shape.table(s, .features)) f ON f.product_id = p.id
            LEFT JOIN \(shape.table(s, .related)) r ON r.product_id = p.id
            LEFT JOIN \(s).product_styles ps ON ps.product_id = p.id
            WHERE \(idRange("p.id", from: from, to: to));
            """
    }

    static func analyzeProduct(_ s: String) -> String { "ANALYZE \(s).product; ANALYZE \(s).product_gzip;" }

    /// Rows that made it into the catalog, per file (see ImportReport for the columns): what
    /// joins to a loaded product (features, and styles with their skus and photos, counted per
    /// product in product_styles). related.csv's orphans and drops were counted while loading.
    static func loadedCounts(_ s: String, _ shape: Shape) -> String {
        """
        SELECT (SELECT count(*) FROM \(s).raw_product),
               (SELECT coalesce(sum(f.n), 0) FROM \(shape.table(s, .features)) f
                  JOIN \(s).raw_product p ON p.id = f.product_id),
               ps.styles, ps.skus, ps.photos,
               (SELECT coalesce(sum(n), 0) FROM \(shape.table(s, .related)))
        FROM (
          SELECT coalesce(sum(n_styles), 0) AS styles, coalesce(sum(n_skus), 0) AS skus, coalesce(sum(n_photos), 0) AS photos
          FROM \(s).product_styles ps JOIN \(s).raw_product p ON p.id = ps.product_id
        ) ps
        """
    }

    static func dropStagingTables(_ s: String) -> String {
        let tables = CatalogFile.allCases.map { "\(s).\(rawTable($0))" }
            + groupedFiles.map { "\(s).\($0.rawValue)_by_parent" } + ["\(s).product_styles"]
        return "DROP TABLE IF EXISTS \(tables.joined(separator: ", "));"
    }

    /// Idempotent: the stable schema, the history table.
    static let ensureControlSchema = """
        CREATE SCHEMA IF NOT EXISTS catalog;
        CREATE TABLE IF NOT EXISTS catalog.import_history (
          id          bigserial PRIMARY KEY,
          schema_name text NOT NULL,
          finished_at timestamptz NOT NULL DEFAULT now(),
          report      jsonb NOT NULL
        );
        """

    static let liveSchema = "SELECT schema_name FROM catalog.import_history ORDER BY id DESC LIMIT 1"
    /// Bytes of a schema's tables with their indexes and TOAST ($1: the schema).
    static let schemaBytes = """
        SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')
        """
    /// max_wal_size in bytes (readable by any role).
    static let maxWalBytes = "SELECT (setting::bigint * 1024 * 1024)::text FROM pg_settings WHERE name = 'max_wal_size'"

    static let leftoverSchemas = """
        SELECT nspname FROM pg_namespace
        WHERE nspname LIKE 'catalog\\_import\\_%' ORDER BY nspname
        """

    /// The generation of the catalog built in schema `s`: its name without the prefix, e.g.
    /// `20261201_184512_4711_1x9k2q` (``Preflight/stamp()``: unique per import). The worker
    /// puts it in every response's ETag (ProductsAPI's `EntityTag`).
    static func generation(ofSchema s: String) -> String {
        s.hasPrefix(stagingPrefix) ? String(s.dropFirst(stagingPrefix.count)) : s
    }

    /// The swap: re-point the view and record the import, in one transaction. The view carries
    /// the generation as a constant column (added last: CREATE OR REPLACE VIEW may only add
    /// columns at the end), so a reader gets the data and its generation from one snapshot;
    /// on a streaming replica the swap's commit replays both at once. Deploy/sql/database.sql
    /// adds the column to a view made by an importer older than it (the same definition).
    /// `catalog.product_gzip` (the documents for gzip clients) is re-pointed in the same
    /// transaction, so both views always name one generation; an importer older than it does
    /// not know the view, and dropping the schema it points at (CASCADE) drops it: the worker
    /// then compresses on its own until the next import (docs/api.md, "Compression").
    static func swap(_ s: String, apiRole: String?, reportLiteral: String) -> String {
        var sql = """
            BEGIN;
            SET LOCAL lock_timeout = '5s';
            SET LOCAL synchronous_commit = on;
            CREATE OR REPLACE VIEW catalog.product AS
              SELECT id, rank, list_doc, product_doc, styles_doc, related_doc,
                     '\(generation(ofSchema: s))'::text AS generation
              FROM \(s).product;
            CREATE OR REPLACE VIEW catalog.product_gzip AS
              SELECT id, product_doc, styles_doc, related_doc,
                     '\(generation(ofSchema: s))'::text AS generation
              FROM \(s).product_gzip;
            INSERT INTO catalog.import_history (schema_name, report) VALUES ('\(s)', \(reportLiteral));

            """
        if let apiRole {
            sql += "GRANT USAGE ON SCHEMA catalog TO \(apiRole);\nGRANT SELECT ON catalog.product, catalog.product_gzip TO \(apiRole);\n"
        }
        sql += "COMMIT;"
        return sql
    }
}
