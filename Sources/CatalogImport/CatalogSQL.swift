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

    static func rawTable(_ file: CatalogFile) -> String { "raw_\(file.rawValue)" }

    static func sqlType(_ kind: ColumnKind) -> String {
        switch kind {
        case .id, .reference: return "integer"
        case .text: return "text"
        case .price: return "numeric"
        case .integer: return "bigint"
        case .boolean: return "boolean"
        }
    }

    /// Unlogged: staging tables are rebuilt from the CSVs if anything goes wrong, so
    /// they need no WAL. No indexes during COPY.
    static func createStaging(_ s: String) -> String {
        var sql = "CREATE SCHEMA \(s);\n"
        for file in CatalogFile.allCases {
            let cols = file.columns.map { "\($0.name) \(sqlType($0.kind))" }.joined(separator: ", ")
            sql += "CREATE UNLOGGED TABLE \(s).\(rawTable(file)) (\(cols));\n"
        }
        return sql
    }

    static func copyStatement(_ s: String, _ file: CatalogFile) -> String {
        let cols = file.columns.map(\.name).joined(separator: ", ")
        return "COPY \(s).\(rawTable(file)) (\(cols)) FROM STDIN"
    }

    /// Settings for the build sessions: big sorts in memory, no timeouts.
    static let buildSessionSettings = """
        SET work_mem = '256MB';
        SET maintenance_work_mem = '1GB';
        SET statement_timeout = 0;
        SET jit = off;
        """

    /// A price as the API shows it: a string with exactly two decimals, or null.
    static func price(_ column: String) -> String { "round(\(column), 2)::text" }

    // MARK: build steps (each runs on one connection; see Importer for the order)

    /// Per style, its skus as the API's object keyed by sku id, in sku-id order.
    static func aggregateSkus(_ s: String) -> String {
        """
        CREATE INDEX ON \(s).raw_skus (style_id, id);
        CREATE UNLOGGED TABLE \(s).style_skus AS
          SELECT style_id, count(*) AS n,
                 json_object_agg(id::text, json_build_object('quantity', quantity, 'size', size) ORDER BY id) AS skus
          FROM \(s).raw_skus GROUP BY style_id;
        CREATE UNIQUE INDEX ON \(s).style_skus (style_id);
        """
    }

    /// Per style, its photos in photo-id order.
    static func aggregatePhotos(_ s: String) -> String {
        """
        CREATE INDEX ON \(s).raw_photos (style_id, id);
        CREATE UNLOGGED TABLE \(s).style_photos AS
          SELECT style_id, count(*) AS n,
                 json_agg(json_build_object('thumbnail_url', thumbnail_url, 'url', url) ORDER BY id) AS photos
          FROM \(s).raw_photos GROUP BY style_id;
        CREATE UNIQUE INDEX ON \(s).style_photos (style_id);
        """
    }

    /// Products' keys, features, and related ids (after the drop rules of DATA.md).
    static func aggregateProductParts(_ s: String) -> String {
        """
        ALTER TABLE \(s).raw_product ADD PRIMARY KEY (id);
        CREATE UNLOGGED TABLE \(s).product_features AS
          SELECT f.product_id, count(*) AS n,
                 json_agg(json_build_object('feature', f.feature, 'value', f.value) ORDER BY f.id) AS features
          FROM \(s).raw_features f JOIN \(s).raw_product p ON p.id = f.product_id
          GROUP BY f.product_id;
        CREATE UNLOGGED TABLE \(s).product_related AS
          SELECT current_product_id AS product_id, count(*) AS n,
                 json_agg(related_product_id ORDER BY id) AS related
          FROM (
            SELECT DISTINCT ON (r.current_product_id, r.related_product_id) r.id, r.current_product_id, r.related_product_id
            FROM \(s).raw_related r
            JOIN \(s).raw_product cur ON cur.id = r.current_product_id
            JOIN \(s).raw_product rel ON rel.id = r.related_product_id
            WHERE r.related_product_id <> r.current_product_id
            ORDER BY r.current_product_id, r.related_product_id, r.id
          ) kept
          GROUP BY current_product_id;
        """
    }

    /// Each style's JSON (orphan styles, whose product is not loaded, drop out here),
    /// then per product the `results` array in style-id order.
    static func aggregateStyles(_ s: String) -> String {
        """
        CREATE UNLOGGED TABLE \(s).style_docs AS
          SELECT st.product_id, st.id, coalesce(k.n, 0) AS skus_n, coalesce(ph.n, 0) AS photos_n,
                 json_build_object(
                   'style_id', st.id,
                   'name', st.name,
                   'original_price', \(price("st.original_price")),
                   'sale_price', \(price("st.sale_price")),
                   'default?', coalesce(st.default_style, false),
                   'photos', coalesce(ph.photos, '[{"thumbnail_url": null, "url": null}]'::json),
                   'skus', coalesce(k.skus, '{"null": {"quantity": null, "size": null}}'::json)
                 ) AS doc
          FROM \(s).raw_styles st
          JOIN \(s).raw_product p ON p.id = st.product_id
          LEFT JOIN \(s).style_photos ph ON ph.style_id = st.id
          LEFT JOIN \(s).style_skus k ON k.style_id = st.id;
        CREATE UNLOGGED TABLE \(s).product_styles AS
          SELECT product_id, json_agg(doc ORDER BY id) AS results
          FROM \(s).style_docs GROUP BY product_id;
        """
    }

    /// The served table: one row per product, every response body pre-rendered.
    static func buildProductTable(_ s: String) -> String {
        let listFields = """
            'id', p.id, 'name', p.name, 'slogan', p.slogan, 'description', p.description,
            'category', p.category, 'default_price', \(price("p.default_price"))
            """
        return """
        CREATE TABLE \(s).product (
          id          integer PRIMARY KEY,
          rank        integer NOT NULL,
          list_doc    text NOT NULL,
          product_doc text NOT NULL,
          styles_doc  text NOT NULL,
          related_doc text NOT NULL
        );
        INSERT INTO \(s).product
          SELECT p.id,
                 row_number() OVER (ORDER BY p.id),
                 json_build_object(\(listFields))::text,
                 json_build_object(\(listFields), 'features', coalesce(f.features, '[]'::json))::text,
                 json_build_object('product_id', p.id::text, 'results', coalesce(ps.results, '[]'::json))::text,
                 coalesce(r.related, '[]'::json)::text
          FROM \(s).raw_product p
          LEFT JOIN \(s).product_features f ON f.product_id = p.id
          LEFT JOIN \(s).product_styles ps ON ps.product_id = p.id
          LEFT JOIN \(s).product_related r ON r.product_id = p.id
          ORDER BY p.id;
        CREATE UNIQUE INDEX product_rank ON \(s).product (rank);
        ANALYZE \(s).product;
        """
    }

    /// Rows that made it into the catalog, per file (see ImportReport for the columns).
    static func loadedCounts(_ s: String) -> String {
        """
        SELECT (SELECT count(*) FROM \(s).raw_product),
               (SELECT coalesce(sum(n), 0) FROM \(s).product_features),
               (SELECT count(*) FROM \(s).style_docs),
               (SELECT coalesce(sum(skus_n), 0) FROM \(s).style_docs),
               (SELECT coalesce(sum(photos_n), 0) FROM \(s).style_docs),
               (SELECT coalesce(sum(n), 0) FROM \(s).product_related),
               (SELECT count(*) FROM \(s).raw_related r
                 WHERE NOT EXISTS (SELECT 1 FROM \(s).raw_product p WHERE p.id = r.current_product_id))
        """
    }

    static func dropStagingTables(_ s: String) -> String {
        let tables = CatalogFile.allCases.map { "\(s).\(rawTable($0))" }
            + ["style_skus", "style_photos", "product_features", "product_related", "style_docs", "product_styles"].map { "\(s).\($0)" }
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

    static let leftoverSchemas = """
        SELECT nspname FROM pg_namespace
        WHERE nspname LIKE 'catalog\\_import\\_%' ORDER BY nspname
        """

    /// The swap: re-point the view and record the import, in one transaction.
    static func swap(_ s: String, apiRole: String?, reportLiteral: String) -> String {
        var sql = """
            BEGIN;
            SET LOCAL lock_timeout = '5s';
            CREATE OR REPLACE VIEW catalog.product AS
              SELECT id, rank, list_doc, product_doc, styles_doc, related_doc FROM \(s).product;
            INSERT INTO catalog.import_history (schema_name, report) VALUES ('\(s)', \(reportLiteral));

            """
        if let apiRole {
            sql += "GRANT USAGE ON SCHEMA catalog TO \(apiRole);\nGRANT SELECT ON catalog.product TO \(apiRole);\n"
        }
        sql += "COMMIT;"
        return sql
    }
}
