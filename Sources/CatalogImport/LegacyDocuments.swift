/// The pieces of the legacy styles document (`GET /products/:id/styles`, docs/api.md) that the
/// import assembles from rendered rows: one definition, used by the Swift path (`StyleMerger`,
/// files in the export's order) and by the SQL fallback (`CatalogSQL`, files out of order),
/// which may only concatenate these pieces and rows already rendered, never write JSON itself.
///
///     {"product_id":"42","results":[<style head><photos>,"skus":<skus>},...]}
///
/// A style's head (`{"style_id":…,"photos":`) and its photo and sku items are rendered per row
/// by `DocumentRows`.
enum LegacyDocuments {
    /// Opens the styles document of a product; the product id follows, then ``stylesResultsOpen``.
    static let stylesDocumentOpen: StaticString = #"{"product_id":""#
    static let stylesResultsOpen: StaticString = #"","results":["#
    static let stylesDocumentClose: StaticString = "]}"
    /// Between a style's photos and its skus.
    static let skusKey: StaticString = #","skus":"#
    /// Closes one style.
    static let styleClose: StaticString = "}"
    /// A style without photos: the legacy service answered one photo of nulls.
    static let noPhotos: StaticString = #"[{"thumbnail_url":null,"url":null}]"#
    /// A style without skus: the legacy service answered one sku keyed "null".
    static let noSkus: StaticString = #"{"null":{"quantity":null,"size":null}}"#

    /// A piece as a SQL string literal (none of them holds a quote or a backslash).
    static func sqlLiteral(_ piece: StaticString) -> String {
        let text = piece.description
        precondition(!text.contains("'") && !text.contains("\\"))
        return "'" + text + "'"
    }
}
