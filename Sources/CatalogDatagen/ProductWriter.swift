/// Writes product.csv: `id,name,slogan,description,category,default_price`.
///
/// Ids run 1…maxProductId in order. An id is a live product, a rejected row (wrong field
/// count, bad price, bad UTF-8, NUL), or missing (a gap, which the child files' orphans
/// point at). A live product may be followed by an extra row with the same id (rejected:
/// the first wins) or with an id that is not an integer.
struct ProductWriter {
    let plan: CatalogPlan
    let vocab: Vocabulary
    var out: OutputFile
    var tally = FileTally(file: .product)
    var rng: Xoshiro256

    init(plan: CatalogPlan, vocab: Vocabulary, out: OutputFile) {
        self.plan = plan
        self.vocab = vocab
        self.out = out
        rng = Xoshiro256(seed: plan.seed, stream: "content/product.csv")
    }

    /// One line in this many has a description that spans two lines.
    static let multilinePerMillion = 200

    mutating func run() throws -> FileResult {
        try out.header(.product)
        var ordinal = 0
        var gaps = 0
        let multilineOrdinal = plan.productCount / 3
        for id in 1...plan.maxProductId {
            try out.reserve()
            switch plan.productRole(id) {
            case .gap:
                gaps += 1
            case .rejected(let kind):
                let shape = plan.productShape(id, ordinal: 0, live: false)
                row(id: id, idText: nil, shape: shape, damage: kind, multiline: false)
                tally.damaged(kind, id: String(id), parent: "")
            case .live(let extra):
                let shape = plan.productShape(id, ordinal: ordinal)
                let multiline = ordinal == multilineOrdinal || rng.chance(perMillion: Self.multilinePerMillion)
                row(id: id, idText: nil, shape: shape, damage: nil, multiline: multiline)
                tally.clean(lines: multiline ? 2 : 1)
                ordinal += 1
                if let extra {
                    let idText = extra == .duplicateId ? String(id) : Spelling.nonIntegerId(after: id, &rng)
                    row(id: id, idText: idText, shape: shape, damage: extra, multiline: false)
                    tally.damaged(extra, id: idText, parent: "")
                }
            }
        }
        try out.close()
        var result = FileResult(counts: tally.counts(bytes: out.totalBytes), samples: tally.samples)
        result.productIdGaps = gaps
        return result
    }

    private mutating func row(id: Int, idText: String?, shape: CatalogPlan.ProductShape, damage: DamageKind?,
                              multiline: Bool) {
        let categories = vocab.categories[shape.sizeSystem.rawValue]
        let category = categories[shape.categoryBits % categories.count]
        let firstName = vocab.firstNames[rng.below(vocab.firstNames.count)]

        if let idText { out.text(idText) } else { out.int(id) }
        out.comma()

        let nameStart = out.count
        out.quote()
        out.bytes(firstName)
        out.byte(0x20)
        out.bytes(category.word)
        out.quote()
        if damage == .nulByte { out.insert([0], at: nameStart + 2) }
        out.comma()

        out.quote()
        sentence(words: 3...9)
        out.quote()
        out.comma()

        let descriptionStart = out.count
        out.quote()
        let sentences = rng.inRange(2...5)
        for i in 0..<sentences {
            if i > 0 { out.byte(multiline && i == 1 ? 0x0A : 0x20) }
            sentence(words: 4...11)
        }
        if rng.below(100) < 3 {
            // A quoted nickname: `""` inside a quoted field.
            out.ascii(" Also known as \"\"")
            out.bytes(firstName)
            out.ascii("\"\".")
        }
        out.quote()
        if damage == .invalidUTF8 {
            // After a space, so a doubled quote is never split.
            var at = descriptionStart + 1
            var probe = descriptionStart + 1 + rng.below(max(1, (out.count - descriptionStart) / 2))
            while probe < out.count - 1 {
                if out.peek(probe) == 0x20 { at = probe + 1; break }
                probe += 1
            }
            out.insert(Spelling.badUTF8(&rng), at: at)
        }
        out.comma()

        out.bytes(category.quoted)
        let fewerFields = damage == .wrongFieldCount && rng.below(2) == 0
        if !fewerFields {
            out.comma()
            if damage == .priceNotNumber {
                out.text(Spelling.badPrices[rng.below(Spelling.badPrices.count)])
            } else {
                out.price(cents: shape.priceCents, decimals: shape.priceDecimals)
            }
            if damage == .wrongFieldCount { out.ascii(",\"Limited Edition\"") }
        }
        out.endRow(.product)
    }

    /// A lorem sentence: capitalised, a comma now and then, a full stop.
    @inline(__always)
    private mutating func sentence(words: ClosedRange<Int>) {
        let n = rng.inRange(words)
        out.bytes(vocab.loremCapitalised[rng.below(vocab.loremCapitalised.count)])
        for _ in 1..<n {
            if rng.below(100) < 6 { out.comma() }
            out.byte(0x20)
            out.bytes(vocab.loremLower[rng.below(vocab.loremLower.count)])
        }
        out.byte(0x2E)
    }
}
