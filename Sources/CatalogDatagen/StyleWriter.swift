/// Writes styles.csv: `id,productId,name,sale_price,original_price,default_style`.
///
/// Style ids are consecutive except for gaps (ids skipped: their skus and photos are
/// orphans). Each live product's styles are followed by at most one damaged row; a gap
/// product gets one orphan style. `CatalogPlan.forEachStyle` walks the same ids.
struct StyleWriter {
    let plan: CatalogPlan
    let vocab: Vocabulary
    var out: OutputFile
    var tally = FileTally(file: .styles)
    var rng: Xoshiro256

    init(plan: CatalogPlan, vocab: Vocabulary, out: OutputFile) {
        self.plan = plan
        self.vocab = vocab
        self.out = out
        rng = Xoshiro256(seed: plan.seed, stream: "content/styles.csv")
    }

    mutating func run() throws -> FileResult {
        try out.header(.styles)
        var result = FileResult(counts: tally.counts(bytes: 0), samples: [])
        var styleId = 0
        var ordinal = 0
        for productId in 1...plan.maxProductId {
            try out.reserve()
            switch plan.productRole(productId) {
            case .rejected:
                continue
            case .gap:
                styleId += 1
                let shape = plan.productShape(productId, ordinal: 0, live: false)
                row(idText: nil, id: styleId, productId: productId, shape: shape, isDefault: true, damage: nil)
                tally.damaged(.orphan, id: String(styleId), parent: String(productId))
            case .live:
                let shape = plan.productShape(productId, ordinal: ordinal)
                ordinal += 1
                let n = shape.styleCount
                if n == 0 {
                    result.productsWithoutStyles += 1
                } else if !shape.hasDefaultStyle {
                    result.productsWithoutDefaultStyle += 1
                }
                let defaultIndex = shape.hasDefaultStyle && n > 0 ? shape.defaultStyleBits % n : -1
                for i in 0..<n {
                    styleId += 1
                    row(idText: nil, id: styleId, productId: productId, shape: shape, isDefault: i == defaultIndex,
                        damage: nil)
                    tally.clean()
                }
                switch shape.styleDamage {
                case nil:
                    break
                case .gapId:
                    styleId += 1
                    result.styleIdGaps += 1
                case .row(let kind):
                    let idText: String
                    switch kind {
                    case .duplicateId: idText = String(styleId)
                    case .nonIntegerId: idText = Spelling.nonIntegerId(after: styleId, &rng)
                    default: styleId += 1; idText = String(styleId)
                    }
                    row(idText: idText, id: styleId, productId: productId, shape: shape, isDefault: false,
                        damage: kind)
                    tally.damaged(kind, id: idText, parent: String(productId))
                }
            }
        }
        try out.close()
        result.counts = tally.counts(bytes: out.totalBytes)
        result.samples = tally.samples
        return result
    }

    @inline(__always)
    private mutating func colour() -> Bytes {
        rng.below(2) == 0 ? vocab.plainColours[rng.below(vocab.plainColours.count)]
                          : vocab.colours[rng.below(vocab.colours.count)]
    }

    private mutating func row(idText: String?, id: Int, productId: Int, shape: CatalogPlan.ProductShape,
                              isDefault: Bool, damage: DamageKind?) {
        if let idText { out.text(idText) } else { out.int(id) }
        out.comma()
        if damage == .nonIntegerReference {
            out.text(Spelling.nonIntegerReference(productId, &rng))
        } else {
            out.int(productId)
        }
        out.comma()

        let nameStart = out.count
        // Damaged rows keep to plain names, so a bad byte never splits a doubled quote.
        let pick = damage == nil ? rng.below(100) : 50
        if pick == 0 {
            out.bytes(vocab.quotedStyleNames[rng.below(vocab.quotedStyleNames.count)])
        } else {
            // Mostly one plain colour, as in the real export; now and then a two-colour way.
            out.quote()
            out.bytes(colour())
            if pick < 9 {
                out.ascii(" & ")
                out.bytes(colour())
            }
            out.quote()
        }
        if damage == .nulByte { out.insert([0], at: nameStart + 2) }
        if damage == .invalidUTF8 { out.insert(Spelling.badUTF8(&rng), at: nameStart + 2) }
        out.comma()

        // original_price: mostly the product's price, sometimes its own.
        var cents = shape.priceCents
        let decimals = shape.priceDecimals
        if rng.below(100) < 20 {
            cents = max(100, cents + (rng.inRange(-20...40)) * 100)
        }
        let badPriceInSale = damage == .priceNotNumber && rng.below(2) == 0
        // sale_price: mostly null, sometimes a price, sometimes empty.
        let sale = rng.below(100)
        if badPriceInSale {
            out.text(Spelling.badPrices[rng.below(Spelling.badPrices.count)])
        } else if sale < 82 {
            out.ascii("null")
        } else if sale < 97 {
            out.price(cents: max(100, cents * rng.inRange(50...90) / 100 / 100 * 100), decimals: 0)
        }
        out.comma()
        if damage == .priceNotNumber && !badPriceInSale {
            out.text(Spelling.badPrices[rng.below(Spelling.badPrices.count)])
        } else {
            out.price(cents: cents, decimals: decimals)
        }
        if damage == .wrongFieldCount && rng.below(2) == 0 {
            out.endRow(.styles)
            return
        }
        out.comma()
        if shape.booleanWords {
            if isDefault { out.ascii("true") } else { out.ascii("false") }
        } else {
            out.byte(isDefault ? 0x31 : 0x30)
        }
        if damage == .wrongFieldCount { out.ascii(",0") }
        out.endRow(.styles)
    }
}
