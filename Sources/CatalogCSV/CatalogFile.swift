/// The six files of the legacy export, with their exact headers and the SQL shape of each field.
///
/// `columns` has one entry per CSV field, in CSV order; `Column.name` is the snake_case SQL
/// column name the importer uses in `COPY … (columns) FROM STDIN` (so `productId` in the CSV
/// header is `product_id` here).
public enum CatalogFile: String, CaseIterable, Sendable {
    case product, features, styles, skus, photos, related

    public var fileName: String { rawValue + ".csv" }

    /// The header line exactly as the export has it (docs/importer.md) (without BOM or line break).
    public var header: String {
        switch self {
        case .product: "id,name,slogan,description,category,default_price"
        case .features: "id,product_id,feature,value"
        case .styles: "id,productId,name,sale_price,original_price,default_style"
        case .skus: "id,styleId,size,quantity"
        case .photos: "id,styleId,url,thumbnail_url"
        case .related: "id,current_product_id,related_product_id"
        }
    }

    public var columns: [Column] {
        switch self {
        case .product:
            [.init(name: "id", kind: .id), .init(name: "name", kind: .text),
             .init(name: "slogan", kind: .text), .init(name: "description", kind: .text),
             .init(name: "category", kind: .text), .init(name: "default_price", kind: .price)]
        case .features:
            [.init(name: "id", kind: .id), .init(name: "product_id", kind: .reference),
             .init(name: "feature", kind: .text), .init(name: "value", kind: .text)]
        case .styles:
            [.init(name: "id", kind: .id), .init(name: "product_id", kind: .reference),
             .init(name: "name", kind: .text), .init(name: "sale_price", kind: .price),
             .init(name: "original_price", kind: .price), .init(name: "default_style", kind: .boolean)]
        case .skus:
            [.init(name: "id", kind: .id), .init(name: "style_id", kind: .reference),
             .init(name: "size", kind: .text), .init(name: "quantity", kind: .integer)]
        case .photos:
            [.init(name: "id", kind: .id), .init(name: "style_id", kind: .reference),
             .init(name: "url", kind: .text), .init(name: "thumbnail_url", kind: .text)]
        case .related:
            [.init(name: "id", kind: .id), .init(name: "current_product_id", kind: .reference),
             .init(name: "related_product_id", kind: .reference)]
        }
    }
}

public struct Column: Sendable {
    /// SQL column name, snake_case.
    public let name: String
    public let kind: ColumnKind

    public init(name: String, kind: ColumnKind) {
        self.name = name
        self.kind = kind
    }
}

/// How a field is validated, what `RecordReader` hands over for it (`CSVField`), and what COPY
/// text `CopyTextConverter` (`products-import --clean-copy`) writes for it.
///
/// "NULL" below means an *unquoted* `null` or an empty *unquoted* field; a quoted `"null"` or
/// `""` is text, which no numeric kind accepts. Numbers are plain ASCII digits: no sign unless
/// stated, no exponent, no thousands separator; a quoted number (`"17"`) is accepted. Spaces and
/// tabs around a number or boolean are ignored (the real skus.csv has `"11", 11`), so ` null`
/// is NULL there too. Leading zeros are accepted and dropped in the output.
public enum ColumnKind: Sendable {
    /// The row's own id: 1...2147483647, never NULL. A second row with an id already accepted
    /// from the same file is rejected ("duplicate id N"); the first accepted row wins. A row
    /// rejected for another reason does not claim its id.
    case id
    /// Another row's id: 0...2147483647, never NULL (0 passes; the importer drops it later).
    case reference
    /// Any UTF-8 text. NULL → `\N`; otherwise copied with COPY escaping (`\\`, `\t`, `\n`, `\r`).
    case text
    /// A non-negative decimal: `140`, `69.5`, `.5`, `5.` — at most 10 integer digits and at most
    /// 2 fractional digits after trailing zeros are dropped, i.e. it fits `numeric(12,2)`.
    /// Output is normalized exact text: no leading zeros, no trailing fractional zeros, no
    /// bare point (`069.50` → `69.5`, `140.00` → `140`, `.5` → `0.5`). NULL → `\N`.
    /// Rejects: "… is not a number", "… is negative", "… has more than 2 decimals",
    /// "… is too large".
    case price
    /// A non-negative count 0...2147483647 (a negative stock count is damage: "… is negative").
    /// NULL → `\N`.
    case integer
    /// `1`/`0`/`true`/`false`, case-insensitive → `t`/`f`. NULL or empty (quoted or not) → `f`:
    /// a style is the default only when it says so, and the column can stay NOT NULL.
    /// Anything else is rejected ("… is not a boolean").
    case boolean
}
