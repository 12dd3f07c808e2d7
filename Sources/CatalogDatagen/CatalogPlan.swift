/// The shape of the whole catalog as pure functions of the seed: which product ids exist,
/// how many features, styles, related rows each product has, how many skus and photos each
/// style has, and which slots of which file carry damage.
///
/// Every writer walks the same plan in id order, so the six files agree with each other
/// (a sku's style id is a style that styles.csv writes) while each writer runs on its own,
/// on any thread, holding nothing but its current row.
struct CatalogPlan: Sendable {
    /// Per-row rate of each damage kind: about 1 in 10,000 rows.
    static let damageRate = 1e-4
    /// The smallest catalog the generator makes, whatever the scale (room for every kind
    /// of damage at its fixed positions).
    static let minimumProducts = 100
    /// Products in the real export (scale 1.0).
    static let fullProducts = 1_000_011

    static let featureCounts = PercentTable([8, 20, 33, 25, 10, 4])                 // mean 2.21
    static let styleCounts = PercentTable([2, 8, 10, 14, 15, 15, 12, 10, 8, 6])      // mean 4.65
    static let relatedCounts = PercentTable([1, 2, 5, 12, 25, 30, 20, 5])            // mean 4.53
    static let sizeSystems = PercentTable([82, 10, 8])                               // clothing, shoes, one size
    static let photoCounts = PercentTable([0, 20, 21, 20, 20, 19])                   // mean 2.97
    static let clothingSkuCounts = PercentTable(Array(repeating: 0, count: 5) + [15, 70, 15])  // 5, 6 or 7

    let seed: UInt64
    /// Loaded products: round(1,000,011 × scale), at least `minimumProducts`.
    let productCount: Int
    /// The highest product id written (ids skipped or taken by rejected rows make it a
    /// little larger than productCount).
    let maxProductId: Int

    /// Slot = product id.
    let productSlots: SlotPlan
    /// Slot = ordinal of the live product (0-based), damage written after its rows.
    let featureSlots: SlotPlan
    let styleSlots: SlotPlan
    let relatedSlots: SlotPlan
    /// Slot = ordinal of the live style (0-based).
    let skuSlots: SlotPlan
    let photoSlots: SlotPlan

    private let productShapes: KeyedHash
    private let styleShapes: KeyedHash

    init(seed: UInt64, scale: Double) {
        self.seed = seed
        let wanted = (Double(Self.fullProducts) * max(0, scale)).rounded()
        productCount = max(Self.minimumProducts, wanted < 1e9 ? Int(wanted) : 1_000_000_000)
        let rate = Self.damageRate
        let n = productCount
        productSlots = SlotPlan(
            seed: seed, stream: "slots/product.csv",
            kinds: [.gapId, .row(.wrongFieldCount), .row(.nonIntegerId), .row(.priceNotNumber),
                    .row(.invalidUTF8), .row(.nulByte), .row(.duplicateId)],
            perKindRate: rate, estimatedSlots: n)
        featureSlots = SlotPlan(
            seed: seed, stream: "slots/features.csv",
            kinds: [.row(.wrongFieldCount), .row(.nonIntegerId), .row(.nonIntegerReference),
                    .row(.invalidUTF8), .row(.nulByte), .row(.duplicateId)],
            perKindRate: rate * 2.2, estimatedSlots: n)
        styleSlots = SlotPlan(
            seed: seed, stream: "slots/styles.csv",
            kinds: [.gapId, .row(.wrongFieldCount), .row(.nonIntegerId), .row(.nonIntegerReference),
                    .row(.priceNotNumber), .row(.invalidUTF8), .row(.nulByte), .row(.duplicateId)],
            perKindRate: rate * 4.7, estimatedSlots: n)
        relatedSlots = SlotPlan(
            seed: seed, stream: "slots/related.csv",
            kinds: [.row(.relatedToZero), .row(.relatedToUnknownProduct), .row(.relatedToSelf),
                    .row(.relatedRepeatedPair), .row(.wrongFieldCount), .row(.nonIntegerId),
                    .row(.nonIntegerReference), .row(.duplicateId)],
            perKindRate: rate * 4.5, estimatedSlots: n)
        skuSlots = SlotPlan(
            seed: seed, stream: "slots/skus.csv",
            kinds: [.row(.wrongFieldCount), .row(.nonIntegerId), .row(.nonIntegerReference),
                    .row(.quantityNotNumber), .row(.invalidUTF8), .row(.nulByte), .row(.duplicateId)],
            perKindRate: rate * 5.8, estimatedSlots: n * 4)
        photoSlots = SlotPlan(
            seed: seed, stream: "slots/photos.csv",
            kinds: [.row(.unclosedQuote), .row(.strayQuote), .row(.wrongFieldCount), .row(.nonIntegerId),
                    .row(.nonIntegerReference), .row(.invalidUTF8), .row(.nulByte), .row(.duplicateId)],
            perKindRate: rate * 2.9, estimatedSlots: n * 4)
        productShapes = KeyedHash(seed: seed, stream: "shape/product")
        styleShapes = KeyedHash(seed: seed, stream: "shape/style")

        var live = 0
        var id = 0
        while live < productCount {
            id += 1
            if case .live = Self.role(productSlots.at(id)) { live += 1 }
        }
        maxProductId = id
    }

    // MARK: products

    enum ProductRole: Equatable {
        /// A product that loads; `extra` is a damaged row written right after it.
        case live(extra: DamageKind?)
        /// The id is taken by a rejected row: no product, and nothing points at it.
        case rejected(DamageKind)
        /// The id is missing from product.csv; some feature/style/related rows point at it
        /// (the orphans).
        case gap
    }

    private static func role(_ injection: Injection?) -> ProductRole {
        switch injection {
        case nil: .live(extra: nil)
        case .gapId: .gap
        case .row(let kind) where kind == .duplicateId || kind == .nonIntegerId: .live(extra: kind)
        case .row(let kind): .rejected(kind)
        }
    }

    @inline(__always)
    func productRole(_ id: Int) -> ProductRole { Self.role(productSlots.at(id)) }

    @inline(__always)
    func isLiveProduct(_ id: Int) -> Bool {
        guard id >= 1 && id <= maxProductId else { return false }
        if case .live = productRole(id) { return true }
        return false
    }

    struct ProductShape {
        var featureCount: Int
        var styleCount: Int
        var relatedCount: Int
        let sizeSystem: SizeSystem
        let categoryBits: Int
        let priceCents: Int
        let priceDecimals: Int
        let hasDefaultStyle: Bool
        let defaultStyleBits: Int
        /// `true`/`false` instead of `1`/`0` in default_style.
        let booleanWords: Bool
        /// Damage after the product's rows in each child file.
        let featureDamage: Injection?
        let styleDamage: Injection?
        let relatedDamage: Injection?
    }

    /// The shape of product `id`, the `ordinal`-th live product (0-based). For a gap id,
    /// pass any ordinal: only the counts and size system are used (for its orphans).
    func productShape(_ id: Int, ordinal: Int, live: Bool = true) -> ProductShape {
        let h1 = productShapes(id)
        let h2 = mix64(h1)
        let system = SizeSystem(rawValue: Self.sizeSystems.pick(h1 >> 48)) ?? .clothing
        let dollars = 5 + Int(h2 % 995)
        let decimalsPick = (h2 >> 16) % 100
        let decimals = decimalsPick < 4 ? 2 : (decimalsPick < 6 ? 1 : 0)
        let cents = dollars * 100 + (decimals == 2 ? (decimalsPick < 2 ? 99 : Int((h2 >> 24) % 100))
                                     : decimals == 1 ? 50 : 0)
        var shape = ProductShape(
            featureCount: Self.featureCounts.pick(h1 & 0xFFFF),
            styleCount: Self.styleCounts.pick((h1 >> 16) & 0xFFFF),
            relatedCount: Self.relatedCounts.pick((h1 >> 32) & 0xFFFF),
            sizeSystem: system,
            categoryBits: Int((h2 >> 32) & 0xFFFF),
            priceCents: cents,
            priceDecimals: decimals,
            hasDefaultStyle: (h2 >> 48) % 100 < 90,
            defaultStyleBits: Int((h2 >> 56) & 0xFF),
            booleanWords: (h2 >> 40) % 100 < 2 || ordinal == 1,
            featureDamage: live ? featureSlots.at(ordinal) : nil,
            styleDamage: live && ordinal != productCount - 1 ? styleSlots.at(ordinal) : nil,
            relatedDamage: live ? relatedSlots.at(ordinal) : nil)
        // A duplicate id repeats the row before it, which must be one of this product's.
        if shape.featureDamage == .row(.duplicateId) { shape.featureCount = max(shape.featureCount, 1) }
        if shape.styleDamage == .row(.duplicateId) { shape.styleCount = max(shape.styleCount, 1) }
        if shape.relatedDamage == .row(.duplicateId) || shape.relatedDamage == .row(.relatedRepeatedPair) {
            shape.relatedCount = max(shape.relatedCount, 1)
        }
        // The last product has the highest style id, so photos.csv can end on it.
        if live && ordinal == productCount - 1 { shape.styleCount = max(shape.styleCount, 1) }
        return shape
    }

    // MARK: styles

    /// How a style id is used.
    enum StyleIdUse {
        /// Not written in styles.csv at all: its skus and photos are orphans.
        case gap
        /// Written, but as a rejected or orphan row: nothing points at it.
        case dead
    }

    /// The id taken (or not) by the damage after a product's styles.
    @inline(__always)
    static func styleIdUse(_ damage: Injection?) -> StyleIdUse? {
        switch damage {
        case nil: nil
        case .gapId: .gap
        case .row(.duplicateId), .row(.nonIntegerId): nil
        case .row: .dead
        }
    }

    struct StyleShape {
        var skuCount: Int
        var photoCount: Int
        let firstSize: Int
        let skuDamage: Injection?
        let photoDamage: Injection?
    }

    /// The shape of style `id`, the `ordinal`-th live style (0-based), of a product whose
    /// skus come in `system`. For a gap style pass live: false (counts only, at least 1).
    func styleShape(_ id: Int, ordinal: Int, system: SizeSystem, live: Bool = true) -> StyleShape {
        let h = styleShapes(id)
        let empty = h % 100 < 3
        var skus: Int
        switch system {
        case .clothing: skus = Self.clothingSkuCounts.pick(h >> 8)
        case .shoes: skus = 8 + Int((h >> 8) % 4)
        case .oneSize: skus = 1
        }
        var shape = StyleShape(
            skuCount: empty ? 0 : skus,
            photoCount: empty ? 0 : Self.photoCounts.pick(h >> 24),
            firstSize: Int((h >> 32) % 8),
            skuDamage: live ? skuSlots.at(ordinal) : nil,
            photoDamage: live ? photoSlots.at(ordinal) : nil)
        if !live {
            shape.skuCount = max(shape.skuCount, 1)
            shape.photoCount = max(shape.photoCount, 1)
        }
        if shape.skuDamage == .row(.duplicateId) { shape.skuCount = max(shape.skuCount, 1) }
        // A duplicate repeats the photo before it; an unclosed quote is written first and
        // must be followed by a normal row (a line that starts with `digits,`).
        if shape.photoDamage == .row(.duplicateId) || shape.photoDamage == .row(.unclosedQuote) {
            shape.photoCount = max(shape.photoCount, 1)
        }
        return shape
    }

    enum StyleVisit {
        case live(id: Int, ordinal: Int, system: SizeSystem)
        case gap(id: Int, system: SizeSystem)
    }

    /// Walks the style ids in the order styles.csv writes them, the way skus.csv and
    /// photos.csv need them: live styles and gaps (dead ids are skipped).
    func forEachStyle(_ body: (StyleVisit) throws -> Void) rethrows {
        var styleId = 0
        var liveProducts = 0
        var liveStyles = 0
        for productId in 1...maxProductId {
            switch productRole(productId) {
            case .rejected:
                continue
            case .gap:
                styleId += 1  // its one orphan style row
            case .live:
                let shape = productShape(productId, ordinal: liveProducts)
                liveProducts += 1
                for _ in 0..<shape.styleCount {
                    styleId += 1
                    try body(.live(id: styleId, ordinal: liveStyles, system: shape.sizeSystem))
                    liveStyles += 1
                }
                switch Self.styleIdUse(shape.styleDamage) {
                case nil: break
                case .dead: styleId += 1
                case .gap:
                    styleId += 1
                    try body(.gap(id: styleId, system: shape.sizeSystem))
                }
            }
        }
    }
}
