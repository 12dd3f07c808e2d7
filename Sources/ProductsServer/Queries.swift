/// The worker's prepared statements: each route is one statement over the importer's read
/// model, the view `catalog.product` (one row per product, its JSON documents pre-rendered).
///
/// Parameters are declared `int4` explicitly, so the statements do not depend on how the view
/// types its columns, and the per-product id can be sent in binary (4 bytes, network order):
/// no number formatting or parsing on either side.
///
/// Every statement also reads `generation`, the import the row belongs to (a constant column
/// of the view, set at each swap; ``EntityTag``): the response's ETag comes from the same row,
/// in the same snapshot, as its body.
enum Queries {
    struct Statement {
        let name: String
        let sql: String
    }

    /// One document of one product: `column` of `view`, with the row's generation.
    private static func lookup(_ name: String, _ column: String, in view: String) -> Statement {
        Statement(name: name, sql: "SELECT \(column), generation FROM \(view) WHERE id = $1::int4")
    }

    static let product = lookup("products_api_product", "product_doc", in: "catalog.product")
    static let styles = lookup("products_api_styles", "styles_doc", in: "catalog.product")
    static let related = lookup("products_api_related", "related_doc", in: "catalog.product")

    /// `rank` is dense (1...N in id order) and indexed: page N is an index range scan, the
    /// same cost as page 1 (no OFFSET).
    static let list = Statement(
        name: "products_api_list",
        sql: "SELECT list_doc, generation FROM catalog.product WHERE rank BETWEEN $1::int4 AND $2::int4 ORDER BY rank")

    /// The readiness check (`/_health/ready`): a catalog is loaded, and which generation.
    static let readiness = Statement(
        name: "products_api_readiness",
        sql: "SELECT generation FROM catalog.product LIMIT 1")

    /// The same lookups in `catalog.product_gzip`, the documents for clients that accept gzip
    /// (each the gzip made at import or, where that is not smaller, the document itself).
    /// Prepared the first time a gzip client asks, not with ``all``: a catalog imported by an
    /// older products-import has no such view, and the API must keep serving it.
    static let productGzip = lookup("products_api_product_gzip", "product_doc", in: "catalog.product_gzip")
    static let stylesGzip = lookup("products_api_styles_gzip", "styles_doc", in: "catalog.product_gzip")
    static let relatedGzip = lookup("products_api_related_gzip", "related_doc", in: "catalog.product_gzip")

    static let gzip = [productGzip, stylesGzip, relatedGzip]

    /// Everything to prepare on a new connection.
    static let all = [product, styles, related, list, readiness]
}
