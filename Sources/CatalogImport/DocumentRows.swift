import CatalogCSV
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The set of product ids accepted from product.csv: a sparse bitset (pages of 65,536 bits
/// allocated on first use; ~125 KB for a million dense ids, at most 256 MiB for any ids). A value
/// type, so a finished set can be handed to another thread.
struct ProductIDs: Sendable {
    private static let pageBits = 16
    private var pages: [[UInt64]] = Array(repeating: [], count: 1 << (31 - 16))
    private(set) var count = 0

    init() {}

    mutating func insert(_ id: Int) {
        guard id > 0 && id <= Int(Int32.max) else { return }
        let page = id >> Self.pageBits
        if pages[page].isEmpty { pages[page] = Array(repeating: 0, count: (1 << Self.pageBits) / 64) }
        let bit = id & ((1 << Self.pageBits) - 1)
        let mask: UInt64 = 1 << UInt64(bit & 63)
        if pages[page][bit >> 6] & mask == 0 {
            pages[page][bit >> 6] |= mask
            count += 1
        }
    }

    func contains(_ id: Int) -> Bool {
        guard id > 0 && id <= Int(Int32.max) else { return false }
        let page = id >> Self.pageBits
        return pages[page].withUnsafeBufferPointer { words in
            guard !words.isEmpty else { return false }
            let bit = id & ((1 << Self.pageBits) - 1)
            return words[bit >> 6] & (1 << UInt64(bit & 63)) != 0
        }
    }
}

/// Hands product.csv's ids to the related.csv loader, which waits for them. Published exactly
/// once: the ids, or nil when product.csv failed (the waiter then gives up too).
final class ProductIDsLatch: Sendable {
    private let value = Mutex<(published: Bool, ids: ProductIDs?)>((false, nil))
    private let done = DispatchGroup()

    init() { done.enter() }

    func publish(_ ids: ProductIDs?) {
        let first = value.withLock { v in
            if v.published { return false }
            v = (true, ids)
            return true
        }
        if first { done.leave() }
    }

    func wait() -> ProductIDs? {
        done.wait()
        return value.withLock { $0.ids }
    }
}

/// A grouped file's parents were not contiguous and ascending: it must be loaded row by row.
struct RowsOutOfOrder: Error {
    let file: CatalogFile
}

/// Turns the converter's COPY text lines for one file into binary COPY tuples whose text
/// columns are pre-rendered JSON, so that the build in SQL only concatenates.
///
/// Staging shapes (see `CatalogSQL.stagingColumns`):
/// - product.csv → `raw_product(id, head)`: `{"id":1,"name":…,"default_price":"140.00"`
///   (the list document without its closing brace).
/// - styles.csv → `raw_styles(id, product_id, head)`:
///   `{"style_id":1,"name":…,"original_price":"140.00","sale_price":null,"default?":true,"photos":`
/// - features, skus, photos, related → `raw_<file>(<parent>, first_id, n, items)`: one row per
///   parent, `items` the finished JSON container of its rows in id order
///   (`[{"feature":…,"value":…},…]`, `{"1":{"quantity":8,"size":"XS"},…}`,
///   `[{"thumbnail_url":…,"url":…},…]`, `[2,3,8,7]`), `n` how many rows it holds, `first_id`
///   the lowest id.
///
/// Grouping (`Mode.grouped`) needs each parent's rows together and the parents ascending,
/// which the real export has; ids within a parent may come in any order (the head of the real
/// skus.csv has 8 before 7) and are sorted here. A parent whose rows pass `maxGroupBytes` gets
/// several staging rows with ascending, disjoint id ranges (`parentsUnique` is then false and
/// SQL joins them in `first_id` order). Parents out of order throw `RowsOutOfOrder`, and the
/// file is loaded again with `Mode.perRow`, one staging row per CSV row, which SQL aggregates
/// (slower, same documents).
///
/// related.csv needs the finished `ProductIDs`: rows whose product is not loaded are counted as
/// orphans here, and rows pointing to 0, to an unknown product or to the product itself are
/// dropped here; repeated pairs (the lowest id wins) are dropped here when grouped, in SQL
/// when per row.
final class DocumentRows {
    enum Mode: Sendable { case grouped, perRow }

    let file: CatalogFile
    let mode: Mode
    /// Largest `items` of one staging row before a parent's rows are cut in two.
    let maxGroupBytes: Int

    /// Every parent got exactly one staging row (grouped files).
    private(set) var parentsUnique = true
    /// related.csv: rows whose product is not loaded.
    private(set) var orphaned = 0
    /// related.csv: rows dropped here by the related rules (0, unknown, itself, repeated pair).
    private(set) var dropped = 0
    /// product.csv: the ids written.
    private(set) var productIDs = ProductIDs()

    private let products: ProductIDs?
    private let fieldCount: Int
    private let fields: UnsafeMutablePointer<Int>  // start, end pairs

    // The open group: its container so far (opening bracket, items, separators), and per item
    // its id, where its JSON starts in `group`, and (related.csv) its target.
    private let group = ByteBuffer(capacity: 1 << 16)
    private let sorted = ByteBuffer(capacity: 1 << 16)
    private var itemIds: [Int] = []
    private var itemStarts: [Int] = []
    private var itemTargets: [Int] = []
    private var itemsAscending = true
    private var groupParent = -1
    /// The highest id already written for `groupParent` (when its rows were cut in two).
    private var flushedMaxId = -1
    /// related.csv: targets already kept for `groupParent`.
    private var seenTargets: [Int] = []
    private var seenSet = Set<Int>()

    init(file: CatalogFile, mode: Mode, products: ProductIDs? = nil, maxGroupBytes: Int = 4 << 20) {
        precondition(file != .related || products != nil, "related.csv needs the product ids")
        self.file = file
        self.mode = mode
        self.products = products
        self.maxGroupBytes = maxGroupBytes
        fieldCount = file.columns.count
        fields = .allocate(capacity: 2 * fieldCount)
    }

    deinit { fields.deallocate() }

    /// Converts complete COPY text lines; appends binary tuples to `out`.
    func consume(_ lines: UnsafeBufferPointer<UInt8>, into out: ByteBuffer) throws(RowsOutOfOrder) {
        guard let base = lines.baseAddress, lines.count > 0 else { return }
        let end = lines.count
        var pos = 0
        while pos < end {
            // Split one line at its tabs (data tabs and line feeds are escaped).
            var start = pos
            for f in 0..<fieldCount {
                let stop: UInt8 = f == fieldCount - 1 ? 0x0A : 0x09
                let hit = memchr(base + start, Int32(stop), end - start)
                let at = hit.map { UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base } ?? end
                fields[2 * f] = start
                fields[2 * f + 1] = at
                start = at + 1
            }
            pos = start
            try row(base, into: out)
        }
    }

    /// Ends the input: writes the open group.
    func finish(into out: ByteBuffer) {
        flushGroup(into: out)
    }

    // MARK: rows

    @inline(__always)
    private func s(_ f: Int) -> Int { fields[2 * f] }
    @inline(__always)
    private func e(_ f: Int) -> Int { fields[2 * f + 1] }

    private func row(_ p: UnsafePointer<UInt8>, into out: ByteBuffer) throws(RowsOutOfOrder) {
        switch file {
        case .product:
            let id = JSONText.integer(p, s(0), e(0))
            productIDs.insert(id)
            out.appendInt16(2)
            BinaryCopy.appendInteger(id, to: out)
            let text = BinaryCopy.beginText(out)
            out.append("{\"id\":")
            out.append(p + s(0), e(0) - s(0))
            out.append(",\"name\":")
            JSONText.appendString(out, p, s(1), e(1))
            out.append(",\"slogan\":")
            JSONText.appendString(out, p, s(2), e(2))
            out.append(",\"description\":")
            JSONText.appendString(out, p, s(3), e(3))
            out.append(",\"category\":")
            JSONText.appendString(out, p, s(4), e(4))
            out.append(",\"default_price\":")
            JSONText.appendPrice(out, p, s(5), e(5))
            BinaryCopy.endText(out, start: text)

        case .styles:
            let id = JSONText.integer(p, s(0), e(0))
            out.appendInt16(3)
            BinaryCopy.appendInteger(id, to: out)
            BinaryCopy.appendInteger(JSONText.integer(p, s(1), e(1)), to: out)
            let text = BinaryCopy.beginText(out)
            out.append("{\"style_id\":")
            out.append(p + s(0), e(0) - s(0))
            out.append(",\"name\":")
            JSONText.appendString(out, p, s(2), e(2))
            out.append(",\"original_price\":")
            JSONText.appendPrice(out, p, s(4), e(4))
            out.append(",\"sale_price\":")
            JSONText.appendPrice(out, p, s(3), e(3))
            out.append(",\"default?\":")
            JSONText.appendBoolean(out, p, s(5), e(5))
            out.append(",\"photos\":")
            BinaryCopy.endText(out, start: text)

        case .features:
            try startItem(id: JSONText.integer(p, s(0), e(0)), parent: JSONText.integer(p, s(1), e(1)), into: out)
            group.append("{\"feature\":")
            JSONText.appendString(group, p, s(2), e(2))
            group.append(",\"value\":")
            JSONText.appendString(group, p, s(3), e(3))
            group.append(0x7D)

        case .skus:
            try startItem(id: JSONText.integer(p, s(0), e(0)), parent: JSONText.integer(p, s(1), e(1)), into: out)
            group.append(0x22)
            group.append(p + s(0), e(0) - s(0))
            group.append("\":{\"quantity\":")
            JSONText.appendNumber(group, p, s(3), e(3))
            group.append(",\"size\":")
            JSONText.appendString(group, p, s(2), e(2))
            group.append(0x7D)

        case .photos:
            try startItem(id: JSONText.integer(p, s(0), e(0)), parent: JSONText.integer(p, s(1), e(1)), into: out)
            group.append("{\"thumbnail_url\":")
            JSONText.appendString(group, p, s(3), e(3))
            group.append(",\"url\":")
            JSONText.appendString(group, p, s(2), e(2))
            group.append(0x7D)

        case .related:
            let id = JSONText.integer(p, s(0), e(0))
            let current = JSONText.integer(p, s(1), e(1))
            let target = JSONText.integer(p, s(2), e(2))
            let products = self.products!
            // The order check covers every row, kept or not.
            if mode == .grouped { try checkParent(current, id: id, into: out) }
            guard products.contains(current) else {
                orphaned += 1
                return
            }
            if target == current || !products.contains(target) {
                dropped += 1
                return
            }
            if mode == .perRow {
                writeTuple(parent: current, firstId: id, count: 1, into: out) { g in
                    g.append(0x5B)
                    g.appendDecimal(target)
                    g.append(0x5D)
                }
                return
            }
            if itemIds.count >= maxGroupBytes / 16 {
                // A product with a huge number of related rows: bounded memory, as above.
                parentsUnique = false
                flushGroup(into: out)
            }
            // Repeated pairs are dropped when the group is written, in id order.
            if let last = itemIds.last, id < last { itemsAscending = false }
            itemIds.append(id)
            itemTargets.append(target)
        }
    }

    /// Grouped: checks the parent's order and opens a group for a new parent. Per row: the
    /// row is its own group.
    @inline(__always)
    private func startItem(id: Int, parent: Int, into out: ByteBuffer) throws(RowsOutOfOrder) {
        if mode == .perRow {
            flushGroup(into: out)
            groupParent = parent
        } else {
            try checkParent(parent, id: id, into: out)
            if group.count >= maxGroupBytes {
                // One parent with huge rows: write what it has, go on in a new staging row.
                parentsUnique = false
                flushGroup(into: out)
            }
        }
        if itemIds.isEmpty {
            group.append(file == .skus ? 0x7B : 0x5B)  // { or [
        } else {
            group.append(0x2C)
            if id < itemIds[itemIds.count - 1] { itemsAscending = false }
        }
        itemIds.append(id)
        itemStarts.append(group.count)
    }

    /// Parents must ascend; a parent's rows already written (cut in two) must all have lower
    /// ids than the rows still to come.
    @inline(__always)
    private func checkParent(_ parent: Int, id: Int, into out: ByteBuffer) throws(RowsOutOfOrder) {
        if parent != groupParent {
            if parent < groupParent { throw RowsOutOfOrder(file: file) }
            flushGroup(into: out)
            groupParent = parent
            flushedMaxId = -1
            if file == .related {
                seenTargets.removeAll(keepingCapacity: true)
                seenSet.removeAll()
            }
        } else if id <= flushedMaxId {
            throw RowsOutOfOrder(file: file)
        }
    }

    /// Writes the open group as one staging row: its items in id order.
    private func flushGroup(into out: ByteBuffer) {
        guard !itemIds.isEmpty else { return }
        defer {
            group.removeAll()
            group.shrink(to: 1 << 20)
            itemIds.removeAll(keepingCapacity: true)
            itemStarts.removeAll(keepingCapacity: true)
            itemTargets.removeAll(keepingCapacity: true)
            itemsAscending = true
        }
        flushedMaxId = max(flushedMaxId, itemIds.max()!)
        if file == .related {
            flushRelated(into: out)
            return
        }
        let count = itemIds.count
        if itemsAscending {
            group.append(file == .skus ? 0x7D : 0x5D)  // } or ]
            writeTuple(parent: groupParent, firstId: itemIds[0], count: count, into: out) { $0.append(group) }
            return
        }
        // Rebuild the container with the items in id order.
        let order = itemIds.indices.sorted { itemIds[$0] < itemIds[$1] }
        sorted.removeAll()
        sorted.append(file == .skus ? 0x7B : 0x5B)
        for (k, i) in order.enumerated() {
            if k > 0 { sorted.append(0x2C) }
            let start = itemStarts[i]
            let end = i + 1 < count ? itemStarts[i + 1] - 1 : group.count
            sorted.append(group.base + start, end - start)
        }
        sorted.append(file == .skus ? 0x7D : 0x5D)
        writeTuple(parent: groupParent, firstId: itemIds[order[0]], count: count, into: out) { $0.append(sorted) }
        sorted.shrink(to: 1 << 20)
    }

    /// related.csv: in id order, the first row of each (product, target) pair is kept.
    private func flushRelated(into out: ByteBuffer) {
        let order = itemsAscending ? Array(itemIds.indices) : itemIds.indices.sorted { itemIds[$0] < itemIds[$1] }
        sorted.removeAll()
        sorted.append(0x5B)
        var kept = 0
        var firstId = 0
        for i in order {
            let target = itemTargets[i]
            guard firstPair(target) else {
                dropped += 1
                continue
            }
            if kept == 0 { firstId = itemIds[i] } else { sorted.append(0x2C) }
            sorted.appendDecimal(target)
            kept += 1
        }
        sorted.append(0x5D)
        guard kept > 0 else { return }
        writeTuple(parent: groupParent, firstId: firstId, count: kept, into: out) { $0.append(sorted) }
    }

    /// True the first time `target` is seen for the current product. A short list for the
    /// usual handful, a set for a product with very many related rows.
    @inline(__always)
    private func firstPair(_ target: Int) -> Bool {
        if seenTargets.count < 32 {
            if seenTargets.contains(target) { return false }
            seenTargets.append(target)
            return true
        }
        if seenSet.isEmpty { seenSet.formUnion(seenTargets) }
        return seenSet.insert(target).inserted
    }

    /// One grouped staging row: parent, first_id, n, items.
    @inline(__always)
    private func writeTuple(parent: Int, firstId: Int, count: Int, into out: ByteBuffer, items: (ByteBuffer) -> Void) {
        out.appendInt16(4)
        BinaryCopy.appendInteger(parent, to: out)
        BinaryCopy.appendInteger(firstId, to: out)
        BinaryCopy.appendInteger(count, to: out)
        let text = BinaryCopy.beginText(out)
        items(out)
        BinaryCopy.endText(out, start: text)
    }
}
