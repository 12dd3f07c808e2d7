import CatalogCSV

/// The legacy documents (docs/api.md): the only code that knows their shapes. It renders each
/// CSV row's piece while the file is read (`DocumentRows`, `StyleMerger`) and names the fixed
/// pieces around them; the SQL of the document build and of its fallback (`CatalogSQL`) only
/// concatenates these, never writes JSON itself.
///
///     /products          [<product head>},…]
///     /products/42       <product head>,"features":[<feature>,…]}
///     /products/42/styles
///                        {"product_id":"42","results":[<style head><photos>,"skus":<skus>},…]}
///                        photos: [<photo>,…] or noPhotos; skus: {<sku>,…} or noSkus
///     /products/42/related  [<id>,…]
enum LegacyDocuments {
    // MARK: rows

    /// product.csv → `{"id":1,"name":…,"slogan":…,"description":…,"category":…,"default_price":"140.00"`
    /// (a product without its closing brace: the list entry and the page go on differently).
    @inline(__always)
    static func productHead(_ r: CSVRecord, into out: ByteBuffer) {
        out.append("{\"id\":")
        out.appendDecimal(r.int(0))
        out.append(",\"name\":")
        JSONText.appendString(out, r.base, r[1])
        out.append(",\"slogan\":")
        JSONText.appendString(out, r.base, r[2])
        out.append(",\"description\":")
        JSONText.appendString(out, r.base, r[3])
        out.append(",\"category\":")
        JSONText.appendString(out, r.base, r[4])
        out.append(",\"default_price\":")
        JSONText.appendPrice(out, r[5])
    }

    /// styles.csv → `{"style_id":1,"name":…,"original_price":"140.00","sale_price":null,"default?":true,"photos":`
    @inline(__always)
    static func styleHead(_ r: CSVRecord, into out: ByteBuffer) {
        out.append("{\"style_id\":")
        out.appendDecimal(r.int(0))
        out.append(",\"name\":")
        JSONText.appendString(out, r.base, r[2])
        out.append(",\"original_price\":")
        JSONText.appendPrice(out, r[4])
        out.append(",\"sale_price\":")
        JSONText.appendPrice(out, r[3])
        out.append(",\"default?\":")
        JSONText.appendBoolean(out, r[5])
        out.append(",\"photos\":")
    }

    /// features.csv → `{"feature":"Fabric","value":"Canvas"}`
    @inline(__always)
    static func feature(_ r: CSVRecord, into out: ByteBuffer) {
        out.append("{\"feature\":")
        JSONText.appendString(out, r.base, r[2])
        out.append(",\"value\":")
        JSONText.appendString(out, r.base, r[3])
        out.append(0x7D)
    }

    /// skus.csv → `"7":{"quantity":16,"size":"S"}` (a member of the style's skus object).
    @inline(__always)
    static func sku(_ r: CSVRecord, into out: ByteBuffer) {
        out.append(0x22)
        out.appendDecimal(r.int(0))
        out.append("\":{\"quantity\":")
        JSONText.appendNumber(out, r[3])
        out.append(",\"size\":")
        JSONText.appendString(out, r.base, r[2])
        out.append(0x7D)
    }

    /// photos.csv → `{"thumbnail_url":…,"url":…}`
    @inline(__always)
    static func photo(_ r: CSVRecord, into out: ByteBuffer) {
        out.append("{\"thumbnail_url\":")
        JSONText.appendString(out, r.base, r[3])
        out.append(",\"url\":")
        JSONText.appendString(out, r.base, r[2])
        out.append(0x7D)
    }

    /// A child file's container brackets: skus make an object keyed by sku id, the others arrays.
    static func opening(_ file: CatalogFile) -> UInt8 { file == .skus ? 0x7B : 0x5B }
    static func closing(_ file: CatalogFile) -> UInt8 { file == .skus ? 0x7D : 0x5D }

    /// The same brackets as SQL literals (the build joins the runs of one parent).
    static func sqlBrackets(_ file: CatalogFile) -> (open: String, close: String) {
        ("'" + String(UnicodeScalar(opening(file))) + "'", "'" + String(UnicodeScalar(closing(file))) + "'")
    }

    // MARK: pieces around the rows

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
