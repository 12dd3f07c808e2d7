/// Writes related.csv: `id,current_product_id,related_product_id`, with no newline after
/// the last row.
///
/// A live product's related rows point at distinct live products other than itself (so
/// all of them are kept), followed by at most one damaged row: one that the importer drops
/// (to 0, to an unknown product, to itself, repeating one of its pairs) or rejects. A gap
/// product gets related rows anyway: the orphans.
struct RelatedWriter {
    let plan: CatalogPlan
    var out: OutputFile
    var tally = FileTally(file: .related)
    var rng: Xoshiro256
    private var lastId = 0
    private var targets: [Int] = []

    init(plan: CatalogPlan, out: OutputFile) {
        self.plan = plan
        self.out = out
        rng = Xoshiro256(seed: plan.seed, stream: "content/related.csv")
        targets.reserveCapacity(16)
    }

    mutating func run() throws -> FileResult {
        try out.header(.related)
        var expectations: [RelatedExpectation] = []
        var perKind: [DamageKind: Int] = [:]
        var ordinal = 0
        var lastMissing = 0  // the latest product id that is not in the catalog
        for productId in 1...plan.maxProductId {
            try out.reserve()
            switch plan.productRole(productId) {
            case .rejected:
                lastMissing = productId
            case .gap:
                lastMissing = productId
                let shape = plan.productShape(productId, ordinal: 0, live: false)
                pickTargets(max(1, shape.relatedCount), for: productId)
                for target in targets {
                    lastId += 1
                    row(id: lastId, current: productId, related: target)
                    tally.damaged(.orphan, id: String(lastId), parent: String(productId))
                }
            case .live:
                let shape = plan.productShape(productId, ordinal: ordinal)
                ordinal += 1
                pickTargets(shape.relatedCount, for: productId)
                for target in targets {
                    lastId += 1
                    row(id: lastId, current: productId, related: target)
                    tally.clean()
                }
                guard case .row(let kind) = shape.relatedDamage else { continue }
                damagedRow(kind, productId: productId, lastMissing: lastMissing)
                if perKind[kind, default: 0] < 2 {
                    perKind[kind, default: 0] += 1
                    expectations.append(RelatedExpectation(productId: productId, related: targets, because: kind))
                }
            }
        }
        try out.close(dropFinalNewline: true)
        var result = FileResult(counts: tally.counts(bytes: out.totalBytes), samples: tally.samples)
        result.related = expectations
        return result
    }

    /// Fills `targets` with n distinct live products other than `productId`.
    private mutating func pickTargets(_ n: Int, for productId: Int) {
        targets.removeAll(keepingCapacity: true)
        while targets.count < n {
            let t = 1 + rng.below(plan.maxProductId)
            if t != productId && plan.isLiveProduct(t) && !targets.contains(t) { targets.append(t) }
        }
    }

    /// A live product that is not `productId` and not among its targets.
    private mutating func freshTarget(for productId: Int) -> Int {
        while true {
            let t = 1 + rng.below(plan.maxProductId)
            if t != productId && plan.isLiveProduct(t) && !targets.contains(t) { return t }
        }
    }

    private mutating func damagedRow(_ kind: DamageKind, productId: Int, lastMissing: Int) {
        let idText: String
        switch kind {
        case .duplicateId: idText = String(lastId)
        case .nonIntegerId: idText = Spelling.nonIntegerId(after: lastId, &rng)
        default: lastId += 1; idText = String(lastId)
        }
        out.text(idText)
        out.comma()
        if kind == .nonIntegerReference && rng.below(2) == 0 {
            out.text(Spelling.nonIntegerReference(productId, &rng))
            out.comma()
            out.int(freshTarget(for: productId))
        } else {
            out.int(productId)
            out.comma()
            switch kind {
            case .relatedToZero:
                out.byte(0x30)
            case .relatedToUnknownProduct:
                // Half of them name a product id that is in no file's catalog: missing or
                // rejected from product.csv; the others are past the last product.
                out.int(lastMissing > 0 && rng.below(2) == 0 ? lastMissing
                        : plan.maxProductId + 1 + rng.below(plan.maxProductId))
            case .relatedToSelf:
                out.int(productId)
            case .relatedRepeatedPair:
                out.int(targets[rng.below(targets.count)])
            case .nonIntegerReference:
                out.text(Spelling.nonIntegerReference(freshTarget(for: productId), &rng))
            case .wrongFieldCount:
                if rng.below(2) == 0 {
                    out.int(freshTarget(for: productId))
                    out.ascii(",1")
                } else {
                    // Two fields: undo the comma after current_product_id.
                    out.unwrite(1)
                }
            default:  // duplicateId, nonIntegerId: otherwise a good row
                out.int(freshTarget(for: productId))
            }
        }
        out.endRow(.related)
        tally.damaged(kind, id: idText, parent: String(productId))
    }

    private mutating func row(id: Int, current: Int, related: Int) {
        out.int(id)
        out.comma()
        out.int(current)
        out.comma()
        out.int(related)
        out.endRow(.related)
    }
}
