import CatalogCSV

/// The six files of the legacy export, in load order, with their exact headers and the
/// file-level quirks the generator gives each one.
public enum ExportFile: String, CaseIterable, Codable, Sendable {
    case product = "product.csv"
    case features = "features.csv"
    case styles = "styles.csv"
    case skus = "skus.csv"
    case photos = "photos.csv"
    case related = "related.csv"

    public var fileName: String { rawValue }

    /// The exact header: the importer's definition (one source for both sides of the format).
    public var header: String { CatalogFile(rawValue: String(rawValue.dropLast(4)))!.header }

    /// product.csv opens with a UTF-8 byte order mark.
    public var hasByteOrderMark: Bool { self == .product }
    /// features.csv ends its lines with CRLF; the others with LF.
    public var usesCRLF: Bool { self == .features }
    /// related.csv has no newline after its last row.
    public var endsWithNewline: Bool { self != .related }

    /// Every kind of damage the generator puts in this file (each at least once, at any scale).
    public var injectedDamage: [DamageKind] {
        switch self {
        case .product:
            [.wrongFieldCount, .nonIntegerId, .priceNotNumber, .invalidUTF8, .nulByte, .duplicateId]
        case .features:
            [.wrongFieldCount, .nonIntegerId, .nonIntegerReference, .invalidUTF8, .nulByte, .duplicateId, .orphan]
        case .styles:
            [.wrongFieldCount, .nonIntegerId, .nonIntegerReference, .priceNotNumber, .invalidUTF8, .nulByte,
             .duplicateId, .orphan]
        case .skus:
            [.wrongFieldCount, .nonIntegerId, .nonIntegerReference, .quantityNotNumber, .invalidUTF8, .nulByte,
             .duplicateId, .orphan]
        case .photos:
            [.unclosedQuote, .unclosedQuoteAtEnd, .strayQuote, .wrongFieldCount, .nonIntegerId,
             .nonIntegerReference, .invalidUTF8, .nulByte, .duplicateId, .orphan]
        case .related:
            [.wrongFieldCount, .nonIntegerId, .nonIntegerReference, .duplicateId, .orphan,
             .relatedToZero, .relatedToUnknownProduct, .relatedToSelf, .relatedRepeatedPair]
        }
    }
}

/// What the importer does with a damaged row (docs/importer.md, "Damage: repaired, rejected, dropped").
public enum DamageOutcome: String, Codable, Sendable {
    /// Fixed and loaded: counted in `repaired` and in `loaded`.
    case repaired
    /// Written to the reject file: wrong shape, wrong type, or a second row with a seen id.
    case rejected
    /// Well formed, but its parent (product; style for skus/photos) was not loaded.
    case orphaned
    /// related.csv only: removed by the 0 / unknown / self / repeated-pair rules.
    case dropped
}

/// One kind of damage. Every damaged row the generator writes is an extra row, damaged in
/// exactly one of these ways, and no other row depends on it.
public enum DamageKind: String, Codable, CaseIterable, Sendable {
    /// photos.csv: `id,styleId,"url","thumbnail` then a line that starts `digits,`.
    case unclosedQuote
    /// photos.csv: the same, on the very last row of the file.
    case unclosedQuoteAtEnd
    /// photos.csv: `id,styleId,https://x.jpg","https://y.jpg"`.
    case strayQuote
    case wrongFieldCount
    case nonIntegerId
    /// A parent key (product id, style id, related product id) that is not an integer.
    case nonIntegerReference
    case quantityNotNumber
    case priceNotNumber
    case invalidUTF8
    case nulByte
    /// The row repeats the id of the row just before it (which is loaded: the first wins).
    case duplicateId
    /// The parent id is well formed but names a product/style that is not in the catalog.
    case orphan
    case relatedToZero
    case relatedToUnknownProduct
    case relatedToSelf
    /// The (current, related) pair already appeared on an earlier, kept row.
    case relatedRepeatedPair

    public var outcome: DamageOutcome {
        switch self {
        case .unclosedQuote, .unclosedQuoteAtEnd, .strayQuote: .repaired
        case .orphan: .orphaned
        case .relatedToZero, .relatedToUnknownProduct, .relatedToSelf, .relatedRepeatedPair: .dropped
        default: .rejected
        }
    }
}

/// What happens at one slot of a file (a product position, or a parent's group of rows).
enum Injection: Equatable, Sendable {
    /// An id is skipped: the row is simply missing from the file (products and styles).
    /// The rows that point at it become orphans.
    case gapId
    /// One extra damaged row.
    case row(DamageKind)
}

/// Decides, for each slot of one file, whether it carries damage and of which kind: at a
/// small random rate, plus every kind once at fixed positions spread over the first 40%
/// of the file so that even the smallest export has each kind at least once.
struct SlotPlan: Sendable {
    private let hash: KeyedHash
    private let kinds: [Injection]
    private let threshold: UInt64
    private let forcedStart: Int
    private let forcedSpacing: Int

    /// - perKindRate: the probability that a given slot carries a given kind.
    /// - estimatedSlots: a lower estimate of the slots the file will have.
    init(seed: UInt64, stream: StaticString, kinds: [Injection], perKindRate: Double, estimatedSlots: Int) {
        hash = KeyedHash(seed: seed, stream: stream)
        self.kinds = kinds
        threshold = UInt64(min(1, perKindRate * Double(kinds.count)) * 4_294_967_296)
        forcedSpacing = max(2, Int(Double(estimatedSlots) * 0.4) / (kinds.count + 1))
        forcedStart = 1 + forcedSpacing / 2 + Int(hash(-1) % UInt64(max(1, forcedSpacing / 4)))
    }

    @inline(__always)
    func at(_ slot: Int) -> Injection? {
        let d = slot - forcedStart
        if d >= 0 {
            let (q, r) = d.quotientAndRemainder(dividingBy: forcedSpacing)
            if r == 0 && q < kinds.count { return kinds[q] }
        }
        let h = hash(slot)
        if h & 0xFFFF_FFFF < threshold {
            return kinds[Int((h >> 32) % UInt64(kinds.count))]
        }
        return nil
    }
}
