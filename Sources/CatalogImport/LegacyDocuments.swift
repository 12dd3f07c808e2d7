/// The pieces of the legacy documents (docs/api.md) that the import assembles from rendered
/// rows: one definition, used by the Swift path (`StyleMerger`, files in the export's order)
/// and by the SQL of the document build and its fallback (`CatalogSQL`), which only
/// concatenates these pieces and rows already rendered, never writes JSON itself.
///
///     /products/42          <product head>,"features":[...]}      (the list: <product head>})
///     /products/42/styles   {"product_id":"42","results":[<style head><photos>,"skus":<skus>},...]}
///     /products/42/related  [...]
///
/// A product's and a style's head (`{"id":…` up to the field before the nested one) and the
/// items of features, photos, skus and related ids are rendered per row by `DocumentRows`.
enum LegacyDocuments {
    /// Closes a product (its list entry right after the head; its page after the features).
    static let productClose: StaticString = "}"
    /// Between a product's head and its features.
    static let featuresKey: StaticString = #","features":"#
    /// No features, no related ids.
    static let emptyArray: StaticString = "[]"

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
