/// Writes features.csv: `id,product_id,feature,value`, with CRLF line ends.
///
/// Each live product's features, then at most one damaged extra row for it. A product id
/// missing from product.csv (a gap) gets feature rows anyway: the orphans.
struct FeatureWriter {
    let plan: CatalogPlan
    let vocab: Vocabulary
    var out: OutputFile
    var tally = FileTally(file: .features)
    var rng: Xoshiro256
    private var lastId = 0

    init(plan: CatalogPlan, vocab: Vocabulary, out: OutputFile) {
        self.plan = plan
        self.vocab = vocab
        self.out = out
        rng = Xoshiro256(seed: plan.seed, stream: "content/features.csv")
    }

    mutating func run() throws -> FileResult {
        try out.header(.features)
        var ordinal = 0
        for productId in 1...plan.maxProductId {
            try out.reserve()
            switch plan.productRole(productId) {
            case .rejected:
                continue
            case .gap:
                let shape = plan.productShape(productId, ordinal: 0, live: false)
                for _ in 0..<max(1, shape.featureCount) {
                    lastId += 1
                    row(id: lastId, idText: nil, productId: productId, damage: nil)
                    tally.damaged(.orphan, id: String(lastId), parent: String(productId))
                }
            case .live:
                let shape = plan.productShape(productId, ordinal: ordinal)
                ordinal += 1
                for _ in 0..<shape.featureCount {
                    lastId += 1
                    row(id: lastId, idText: nil, productId: productId, damage: nil)
                    tally.clean()
                }
                guard case .row(let kind) = shape.featureDamage else { continue }
                let idText: String
                switch kind {
                case .duplicateId: idText = String(lastId)
                case .nonIntegerId: idText = Spelling.nonIntegerId(after: lastId, &rng)
                default: lastId += 1; idText = String(lastId)
                }
                row(id: lastId, idText: idText, productId: productId, damage: kind)
                tally.damaged(kind, id: idText, parent: String(productId))
            }
        }
        try out.close()
        return FileResult(counts: tally.counts(bytes: out.totalBytes), samples: tally.samples)
    }

    private mutating func row(id: Int, idText: String?, productId: Int, damage: DamageKind?) {
        if let idText { out.text(idText) } else { out.int(id) }
        out.comma()
        if damage == .nonIntegerReference {
            out.text(Spelling.nonIntegerReference(productId, &rng))
        } else {
            out.int(productId)
        }
        out.comma()
        // Damaged text goes in "Fabric", which always has a value.
        let feature = damage == nil ? vocab.features[rng.below(vocab.features.count)] : vocab.features[0]
        let nameStart = out.count
        out.bytes(feature.quotedName)
        if damage == .nulByte { out.insert([0], at: nameStart + 3) }
        if damage == .wrongFieldCount && rng.below(2) == 0 {
            out.endRow(.features)
            return
        }
        out.comma()
        let valueStart = out.count
        if let value = feature.quotedValues[rng.below(feature.quotedValues.count)] {
            out.bytes(value)
        } else {
            out.ascii("null")
        }
        if damage == .invalidUTF8 { out.insert(Spelling.badUTF8(&rng), at: valueStart + 2) }
        if damage == .wrongFieldCount { out.ascii(",\"Imported\"") }
        out.endRow(.features)
    }
}
