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

/// Finished groups in arrival order, for a reader that pulls them one at a time (the style
/// merge). A popped group's bytes stay valid until the queue is refilled, which its source
/// does only once every group was popped.
final class GroupQueue {
    struct Group {
        var parent: Int
        var firstId: Int
        var count: Int
        var items: UnsafeBufferPointer<UInt8>
    }

    private struct Entry {
        var parent: Int
        var firstId: Int
        var count: Int
        var start: Int
        var end: Int
    }

    private struct State {
        var entries: [Entry] = []
        var head = 0
    }

    private let storage = ByteBuffer(capacity: 1 << 20)
    /// Behind a pointer: no run-time exclusivity checks (see `ByteBuffer`).
    private let v: UnsafeMutablePointer<State>

    init() {
        v = .allocate(capacity: 1)
        v.initialize(to: State())
    }

    deinit {
        v.deinitialize(count: 1)
        v.deallocate()
    }

    var isEmpty: Bool { v.pointee.head == v.pointee.entries.count }
    /// Bytes of the groups held.
    var bytes: Int { storage.count }

    func push(parent: Int, firstId: Int, count: Int, items: (ByteBuffer) -> Void) {
        let start = storage.count
        items(storage)
        v.pointee.entries.append(Entry(parent: parent, firstId: firstId, count: count, start: start, end: storage.count))
    }

    func pop() -> Group? {
        let head = v.pointee.head
        guard head < v.pointee.entries.count else { return nil }
        v.pointee.head = head + 1
        let e = v.pointee.entries[head]
        return Group(parent: e.parent, firstId: e.firstId, count: e.count,
                     items: UnsafeBufferPointer(start: storage.base + e.start, count: e.end - e.start))
    }

    /// Forgets every group (all popped): the storage is reused.
    func reset() {
        storage.removeAll()
        storage.shrink(to: 4 << 20)
        v.pointee.entries.removeAll(keepingCapacity: true)
        v.pointee.head = 0
    }
}

/// A grouped file's parents were not contiguous and ascending: it must be loaded row by row.
struct RowsOutOfOrder: Error {
    let file: CatalogFile
}

/// Turns one file's accepted records (`RecordReader`) into binary COPY tuples whose text
/// columns are JSON rendered by `LegacyDocuments`, so that the build in SQL only concatenates.
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
    var parentsUnique: Bool { v.pointee.parentsUnique }
    /// related.csv: rows whose product is not loaded.
    var orphaned: Int { v.pointee.orphaned }
    /// related.csv: rows dropped here by the related rules (0, unknown, itself, repeated pair).
    var dropped: Int { v.pointee.dropped }
    /// product.csv: the ids written.
    var productIDs: ProductIDs { v.pointee.productIDs }

    private let products: ProductIDs?
    /// Where finished groups go instead of binary COPY tuples (the style merge pulls them).
    private let queue: GroupQueue?

    // The open group: its container so far (opening bracket, items, separators), and per item
    // its id, where its JSON starts in `group`, and (related.csv) its target.
    private let group = ByteBuffer(capacity: 1 << 16)
    private let sorted = ByteBuffer(capacity: 1 << 16)

    /// The mutable state, behind a pointer: no run-time exclusivity checks on the hot path
    /// (see `ByteBuffer`).
    private struct State {
        var parentsUnique = true
        var orphaned = 0
        var dropped = 0
        var productIDs = ProductIDs()
        var itemIds: [Int] = []
        var itemStarts: [Int] = []
        var itemTargets: [Int] = []
        var itemsAscending = true
        var groupParent = -1
        /// The highest id already written for `groupParent` (when its rows were cut in two).
        var flushedMaxId = -1
        /// related.csv: targets already kept for `groupParent`.
        var seenTargets: [Int] = []
        var seenSet = Set<Int>()
    }

    private let v: UnsafeMutablePointer<State>

    init(file: CatalogFile, mode: Mode, products: ProductIDs? = nil, queue: GroupQueue? = nil, maxGroupBytes: Int = 4 << 20) {
        precondition(file != .related || products != nil, "related.csv needs the product ids")
        self.file = file
        self.mode = mode
        self.products = products
        self.queue = queue
        self.maxGroupBytes = maxGroupBytes
        v = .allocate(capacity: 1)
        v.initialize(to: State())
    }

    deinit {
        v.deinitialize(count: 1)
        v.deallocate()
    }

    /// Ends the input: writes the open group.
    func finish(into out: ByteBuffer) {
        flushGroup(into: out)
    }

    // MARK: rows

    /// One accepted record; appends binary tuples to `out` (grouped files: when a group ends).
    func add(_ r: CSVRecord, into out: ByteBuffer) throws(RowsOutOfOrder) {
        switch file {
        case .product:
            let id = r.int(0)
            v.pointee.productIDs.insert(id)
            out.appendInt16(2)
            BinaryCopy.appendInteger(id, to: out)
            let text = BinaryCopy.beginText(out)
            LegacyDocuments.productHead(r, into: out)
            BinaryCopy.endText(out, start: text)

        case .styles where queue != nil:
            // For the style merge: parent = product, first_id = the style's id, items = its head.
            queue!.push(parent: r.int(1), firstId: r.int(0), count: 1) { LegacyDocuments.styleHead(r, into: $0) }

        case .styles:
            out.appendInt16(3)
            BinaryCopy.appendInteger(r.int(0), to: out)
            BinaryCopy.appendInteger(r.int(1), to: out)
            let text = BinaryCopy.beginText(out)
            LegacyDocuments.styleHead(r, into: out)
            BinaryCopy.endText(out, start: text)

        case .features:
            try startItem(id: r.int(0), parent: r.int(1), into: out)
            LegacyDocuments.feature(r, into: group)

        case .skus:
            try startItem(id: r.int(0), parent: r.int(1), into: out)
            LegacyDocuments.sku(r, into: group)

        case .photos:
            try startItem(id: r.int(0), parent: r.int(1), into: out)
            LegacyDocuments.photo(r, into: group)

        case .related:
            let id = r.int(0)
            let current = r.int(1)
            let target = r.int(2)
            let products = self.products!
            // The order check covers every row, kept or not.
            if mode == .grouped { try checkParent(current, id: id, into: out) }
            guard products.contains(current) else {
                v.pointee.orphaned += 1
                return
            }
            if target == current || !products.contains(target) {
                v.pointee.dropped += 1
                return
            }
            if mode == .perRow {
                writeTuple(parent: current, firstId: id, count: 1, into: out) { g in
                    g.append(LegacyDocuments.opening(.related))
                    g.appendDecimal(target)
                    g.append(LegacyDocuments.closing(.related))
                }
                return
            }
            if v.pointee.itemIds.count >= maxGroupBytes / 16 {
                // A product with a huge number of related rows: bounded memory, as above.
                v.pointee.parentsUnique = false
                flushGroup(into: out)
            }
            // Repeated pairs are dropped when the group is written, in id order.
            if let last = v.pointee.itemIds.last, id < last { v.pointee.itemsAscending = false }
            v.pointee.itemIds.append(id)
            v.pointee.itemTargets.append(target)
        }
    }

    /// Grouped: checks the parent's order and opens a group for a new parent. Per row: the
    /// row is its own group.
    @inline(__always)
    private func startItem(id: Int, parent: Int, into out: ByteBuffer) throws(RowsOutOfOrder) {
        if mode == .perRow {
            flushGroup(into: out)
            v.pointee.groupParent = parent
        } else {
            try checkParent(parent, id: id, into: out)
            if group.count >= maxGroupBytes {
                // One parent with huge rows: write what it has, go on in a new staging row.
                v.pointee.parentsUnique = false
                flushGroup(into: out)
            }
        }
        if v.pointee.itemIds.isEmpty {
            group.append(LegacyDocuments.opening(file))
        } else {
            group.append(0x2C)
            if id < v.pointee.itemIds[v.pointee.itemIds.count - 1] { v.pointee.itemsAscending = false }
        }
        v.pointee.itemIds.append(id)
        v.pointee.itemStarts.append(group.count)
    }

    /// Parents must ascend; a parent's rows already written (cut in two) must all have lower
    /// ids than the rows still to come.
    @inline(__always)
    private func checkParent(_ parent: Int, id: Int, into out: ByteBuffer) throws(RowsOutOfOrder) {
        if parent != v.pointee.groupParent {
            if parent < v.pointee.groupParent { throw RowsOutOfOrder(file: file) }
            flushGroup(into: out)
            v.pointee.groupParent = parent
            v.pointee.flushedMaxId = -1
            if file == .related {
                v.pointee.seenTargets.removeAll(keepingCapacity: true)
                v.pointee.seenSet.removeAll()
            }
        } else if id <= v.pointee.flushedMaxId {
            throw RowsOutOfOrder(file: file)
        }
    }

    /// Writes the open group as one staging row: its items in id order.
    private func flushGroup(into out: ByteBuffer) {
        guard !v.pointee.itemIds.isEmpty else { return }
        defer {
            group.removeAll()
            group.shrink(to: 1 << 20)
            v.pointee.itemIds.removeAll(keepingCapacity: true)
            v.pointee.itemStarts.removeAll(keepingCapacity: true)
            v.pointee.itemTargets.removeAll(keepingCapacity: true)
            v.pointee.itemsAscending = true
        }
        v.pointee.flushedMaxId = max(v.pointee.flushedMaxId, v.pointee.itemIds.max()!)
        if file == .related {
            flushRelated(into: out)
            return
        }
        let count = v.pointee.itemIds.count
        if v.pointee.itemsAscending {
            group.append(LegacyDocuments.closing(file))
            writeTuple(parent: v.pointee.groupParent, firstId: v.pointee.itemIds[0], count: count, into: out) { $0.append(group) }
            return
        }
        // Rebuild the container with the items in id order.
        let order = v.pointee.itemIds.indices.sorted { v.pointee.itemIds[$0] < v.pointee.itemIds[$1] }
        sorted.removeAll()
        sorted.append(LegacyDocuments.opening(file))
        for (k, i) in order.enumerated() {
            if k > 0 { sorted.append(0x2C) }
            let start = v.pointee.itemStarts[i]
            let end = i + 1 < count ? v.pointee.itemStarts[i + 1] - 1 : group.count
            sorted.append(group.base + start, end - start)
        }
        sorted.append(LegacyDocuments.closing(file))
        writeTuple(parent: v.pointee.groupParent, firstId: v.pointee.itemIds[order[0]], count: count, into: out) { $0.append(sorted) }
        sorted.shrink(to: 1 << 20)
    }

    /// related.csv: in id order, the first row of each (product, target) pair is kept.
    private func flushRelated(into out: ByteBuffer) {
        let order = v.pointee.itemsAscending ? Array(v.pointee.itemIds.indices) : v.pointee.itemIds.indices.sorted { v.pointee.itemIds[$0] < v.pointee.itemIds[$1] }
        sorted.removeAll()
        sorted.append(LegacyDocuments.opening(.related))
        var kept = 0
        var firstId = 0
        for i in order {
            let target = v.pointee.itemTargets[i]
            guard firstPair(target) else {
                v.pointee.dropped += 1
                continue
            }
            if kept == 0 { firstId = v.pointee.itemIds[i] } else { sorted.append(0x2C) }
            sorted.appendDecimal(target)
            kept += 1
        }
        sorted.append(LegacyDocuments.closing(.related))
        guard kept > 0 else { return }
        writeTuple(parent: v.pointee.groupParent, firstId: firstId, count: kept, into: out) { $0.append(sorted) }
    }

    /// True the first time `target` is seen for the current product. A short list for the
    /// usual handful, a set for a product with very many related rows.
    @inline(__always)
    private func firstPair(_ target: Int) -> Bool {
        if v.pointee.seenTargets.count < 32 {
            if v.pointee.seenTargets.contains(target) { return false }
            v.pointee.seenTargets.append(target)
            return true
        }
        if v.pointee.seenSet.isEmpty { v.pointee.seenSet.formUnion(v.pointee.seenTargets) }
        return v.pointee.seenSet.insert(target).inserted
    }

    /// One grouped staging row: parent, first_id, n, items (or a group for the style merge).
    @inline(__always)
    private func writeTuple(parent: Int, firstId: Int, count: Int, into out: ByteBuffer, items: (ByteBuffer) -> Void) {
        if let queue {
            queue.push(parent: parent, firstId: firstId, count: count, items: items)
            return
        }
        out.appendInt16(4)
        BinaryCopy.appendInteger(parent, to: out)
        BinaryCopy.appendInteger(firstId, to: out)
        BinaryCopy.appendInteger(count, to: out)
        let text = BinaryCopy.beginText(out)
        items(out)
        BinaryCopy.endText(out, start: text)
    }
}

extension DocumentRows {
    /// Reads records from `reader` and adds them until `enough(out)` or the end of the file
    /// (the open group is then written). Returns false at the end.
    func read(_ reader: RecordReader, into out: ByteBuffer, until enough: (ByteBuffer) -> Bool,
              onReject: (Reject) -> Void) throws -> Bool {
        var outOfOrder: RowsOutOfOrder?
        let more: Bool
        do throws(CSVFileError) {
            more = try reader.read(onReject: onReject) { record in
                do throws(RowsOutOfOrder) {
                    try self.add(record, into: out)
                } catch {
                    outOfOrder = error
                    return false
                }
                return !enough(out)
            }
        } catch {
            throw ImportError.input(error.description)
        }
        if let outOfOrder { throw outOfOrder }
        if !more { finish(into: out) }
        return more
    }
}
