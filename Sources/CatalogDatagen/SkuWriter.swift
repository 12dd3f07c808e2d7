/// Writes skus.csv: `id,styleId,size,quantity`.
///
/// Each live style's skus (none for a few styles), then at most one damaged row for it;
/// a style id missing from styles.csv (a gap) gets skus anyway: the orphans.
struct SkuWriter {
    let plan: CatalogPlan
    let vocab: Vocabulary
    var out: OutputFile
    var tally = FileTally(file: .skus)
    var rng: Xoshiro256
    private var lastId = 0

    init(plan: CatalogPlan, vocab: Vocabulary, out: OutputFile) {
        self.plan = plan
        self.vocab = vocab
        self.out = out
        rng = Xoshiro256(seed: plan.seed, stream: "content/skus.csv")
    }

    mutating func run() throws -> FileResult {
        try out.header(.skus)
        var stylesWithoutSkus = 0
        try plan.forEachStyle { visit in
            try out.reserve()
            switch visit {
            case .live(let styleId, let ordinal, let system):
                let shape = plan.styleShape(styleId, ordinal: ordinal, system: system)
                if shape.skuCount == 0 { stylesWithoutSkus += 1 }
                for k in 0..<shape.skuCount {
                    lastId += 1
                    row(idText: nil, id: lastId, styleId: styleId, size: size(k, of: shape, system), damage: nil)
                    tally.clean()
                }
                guard case .row(let kind) = shape.skuDamage else { return }
                let idText: String
                switch kind {
                case .duplicateId: idText = String(lastId)
                case .nonIntegerId: idText = Spelling.nonIntegerId(after: lastId, &rng)
                default: lastId += 1; idText = String(lastId)
                }
                row(idText: idText, id: lastId, styleId: styleId, size: vocab.sizes[0][2], damage: kind)
                tally.damaged(kind, id: idText, parent: String(styleId))
            case .gap(let styleId, let system):
                let shape = plan.styleShape(styleId, ordinal: 0, system: system, live: false)
                for k in 0..<shape.skuCount {
                    lastId += 1
                    row(idText: nil, id: lastId, styleId: styleId, size: size(k, of: shape, system), damage: nil)
                    tally.damaged(.orphan, id: String(lastId), parent: String(styleId))
                }
            }
        }
        try out.close()
        var result = FileResult(counts: tally.counts(bytes: out.totalBytes), samples: tally.samples)
        result.stylesWithoutRows = stylesWithoutSkus
        return result
    }

    /// The k-th size of a style: consecutive sizes of its product's size system; a 7th
    /// clothing sku repeats XL (two skus with the same size, as in the real export).
    @inline(__always)
    private func size(_ k: Int, of shape: CatalogPlan.StyleShape, _ system: SizeSystem) -> Bytes {
        let sizes = vocab.sizes[system.rawValue]
        switch system {
        case .clothing:
            return sizes[shape.skuCount == 5 ? (shape.firstSize & 1) + k : k]
        case .shoes:
            return sizes[shape.firstSize % (sizes.count - shape.skuCount + 1) + k]
        case .oneSize:
            return sizes[0]
        }
    }

    private mutating func row(idText: String?, id: Int, styleId: Int, size: Bytes, damage: DamageKind?) {
        if let idText { out.text(idText) } else { out.int(id) }
        out.comma()
        if damage == .nonIntegerReference {
            out.text(Spelling.nonIntegerReference(styleId, &rng))
        } else {
            out.int(styleId)
        }
        out.comma()
        let sizeStart = out.count
        out.bytes(size)
        if damage == .nulByte { out.insert([0], at: sizeStart + 2) }
        if damage == .invalidUTF8 { out.insert(Spelling.badUTF8(&rng), at: sizeStart + 2) }
        if damage == .wrongFieldCount && rng.below(2) == 0 {
            out.endRow(.skus)
            return
        }
        out.comma()
        if damage == .quantityNotNumber {
            out.text(Spelling.badQuantities[rng.below(Spelling.badQuantities.count)])
        } else {
            // Real stock levels: mostly a few dozen, sometimes none.
            let q = rng.below(64)
            out.int(q < 2 ? 0 : q - 2)
        }
        if damage == .wrongFieldCount { out.ascii(",5") }
        out.endRow(.skus)
    }
}
