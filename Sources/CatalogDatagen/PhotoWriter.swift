/// Writes photos.csv: `id,styleId,url,thumbnail_url`, url before thumbnail_url, both
/// Unsplash URLs of 100–140 characters.
///
/// Each live style's photos (none for a few styles), with at most one damaged row; a gap
/// style gets photos anyway (the orphans). The two repairable kinds live here: an
/// unclosed quote (written *before* the style's photos, so the next line is a normal row
/// that starts `digits,`), a stray quote after an unquoted url, and, as the very last row
/// of the file, one more unclosed quote.
struct PhotoWriter {
    let plan: CatalogPlan
    let vocab: Vocabulary
    var out: OutputFile
    var tally = FileTally(file: .photos)
    var rng: Xoshiro256
    private var lastId = 0

    init(plan: CatalogPlan, vocab: Vocabulary, out: OutputFile) {
        self.plan = plan
        self.vocab = vocab
        self.out = out
        rng = Xoshiro256(seed: plan.seed, stream: "content/photos.csv")
    }

    mutating func run() throws -> FileResult {
        try out.header(.photos)
        var stylesWithoutPhotos = 0
        var lastLiveStyle = 0
        try plan.forEachStyle { visit in
            try out.reserve()
            switch visit {
            case .live(let styleId, let ordinal, let system):
                lastLiveStyle = styleId
                let shape = plan.styleShape(styleId, ordinal: ordinal, system: system)
                if shape.photoCount == 0 { stylesWithoutPhotos += 1 }
                let damage: DamageKind? = if case .row(let kind) = shape.photoDamage { kind } else { nil }
                if damage == .unclosedQuote { damagedRow(.unclosedQuote, styleId: styleId) }
                for _ in 0..<shape.photoCount {
                    lastId += 1
                    row(idText: nil, id: lastId, styleId: styleId, damage: nil)
                    tally.clean()
                }
                if let damage, damage != .unclosedQuote { damagedRow(damage, styleId: styleId) }
            case .gap(let styleId, _):
                let shape = plan.styleShape(styleId, ordinal: 0, system: .clothing, live: false)
                for _ in 0..<shape.photoCount {
                    lastId += 1
                    row(idText: nil, id: lastId, styleId: styleId, damage: nil)
                    tally.damaged(.orphan, id: String(lastId), parent: String(styleId))
                }
            }
        }
        // The last live style has the highest style id written, so styleId stays non-decreasing.
        try out.reserve()
        damagedRow(.unclosedQuoteAtEnd, styleId: lastLiveStyle)
        try out.close()
        var result = FileResult(counts: tally.counts(bytes: out.totalBytes), samples: tally.samples)
        result.stylesWithoutRows = stylesWithoutPhotos
        return result
    }

    private mutating func damagedRow(_ kind: DamageKind, styleId: Int) {
        let idText: String
        switch kind {
        case .duplicateId: idText = String(lastId)
        case .nonIntegerId: idText = Spelling.nonIntegerId(after: lastId, &rng)
        default: lastId += 1; idText = String(lastId)
        }
        let (url, thumbnail) = row(idText: idText, id: lastId, styleId: styleId, damage: kind)
        if kind.outcome == .repaired {
            tally.damaged(kind, id: idText, parent: String(styleId), url: url, thumbnailUrl: thumbnail)
        } else {
            tally.damaged(kind, id: idText, parent: String(styleId))
        }
    }

    /// Writes one row; for repaired kinds returns the url and thumbnail_url as the importer
    /// must load them.
    @discardableResult
    private mutating func row(idText: String?, id: Int, styleId: Int, damage: DamageKind?) -> (String?, String?) {
        if let idText { out.text(idText) } else { out.int(id) }
        out.comma()
        if damage == .nonIntegerReference {
            out.text(Spelling.nonIntegerReference(styleId, &rng))
        } else {
            out.int(styleId)
        }
        out.comma()

        let photo = vocab.photos[rng.below(vocab.photos.count)]
        let width = vocab.urlWidths[rng.below(vocab.urlWidths.count)]
        // Now and then the thumbnail is of another photo, as in the real export.
        let thumbnail = rng.below(100) < 5 ? vocab.photos[rng.below(vocab.photos.count)] : photo

        if damage != .strayQuote { out.quote() }
        let urlStart = out.count
        out.bytes(photo.prefix)
        out.bytes(width)
        let urlEnd = out.count
        out.quote()  // for a stray quote, this is the stray one
        if damage == .nulByte { out.insert([0], at: urlStart + 28) }
        if damage == .invalidUTF8 { out.insert(Spelling.badUTF8(&rng), at: urlStart + 28) }
        if damage == .wrongFieldCount && rng.below(2) == 0 {
            out.endRow(.photos)
            return (nil, nil)
        }
        out.comma()
        out.quote()
        let thumbnailStart = out.count
        out.bytes(thumbnail.prefix)
        out.bytes(vocab.thumbnailTail)
        let thumbnailEnd = out.count
        if damage != .unclosedQuote && damage != .unclosedQuoteAtEnd { out.quote() }
        if damage == .wrongFieldCount {
            out.ascii(",\"")
            out.bytes(photo.prefix)
            out.bytes(vocab.thumbnailTail)
            out.quote()
        }
        let repaired = damage?.outcome == .repaired
        let values = repaired ? (out.string(from: urlStart, to: urlEnd), out.string(from: thumbnailStart, to: thumbnailEnd))
                              : (nil, nil)
        out.endRow(.photos)
        return values
    }
}
