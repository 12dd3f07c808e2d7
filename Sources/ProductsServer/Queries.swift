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

    static let product = Statement(
        name: "products_api_product",
        sql: "SELECT product_doc, generation FROM catalog.product WHERE id = $1::int4")

    static let styles = Statement(
        name: "products_api_styles",
        sql: "SELECT styles_doc, generation FROM catalog.product WHERE id = $1::int4")

    static let related = Statement(
        name: "products_api_related",
        sql: "SELECT related_doc, generation FROM catalog.product WHERE id = $1::int4")

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
    static let productGzip = Statement(
        name: "products_api_product_gzip",
        sql: "SELECT product_doc, generation FROM catalog.product_gzip WHERE id = $1::int4")

    static let stylesGzip = Statement(
        name: "products_api_styles_gzip",
        sql: "SELECT styles_doc, generation FROM catalog.product_gzip WHERE id = $1::int4")

    static let relatedGzip = Statement(
        name: "products_api_related_gzip",
        sql: "SELECT related_doc, generation FROM catalog.product_gzip WHERE id = $1::int4")

    static let gzip = [productGzip, stylesGzip, relatedGzip]

    /// Everything to prepare on a new connection.
    static let all = [product, styles, related, list, readiness]
}
