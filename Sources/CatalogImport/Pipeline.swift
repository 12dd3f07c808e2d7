import CatalogCSV
import Foundation
import Postgres
import Synchronization

/// Chunks of COPY data from a producer thread (reading, repairing, rendering) to the thread
/// that owns the database connection, so that the two overlap. With the producer writing to
/// libpq itself they took turns: libpq blocks on a full socket, and the server idles while the
/// next chunk is rendered (measured: importer and server each ~50% busy on one file).
///
/// The chunks are a fixed set of buffers that go round: the producer renders into an empty one
/// (`emptyBuffer`), hands it over full (`put`), the consumer gives it to libpq as it is and
/// hands it back (`recycle`). Nothing is copied between rendering and `PQputCopyData`, and
/// memory stays flat (`buffers` × ~1 MB) whichever side is slower.
final class ChunkQueue: Sendable {
    private struct State {
        var free: [ByteBuffer] = []
        var full: [ByteBuffer] = []
        var finished = false
        var error: (any Error)?
        var cancelled = false
    }

    private let state = Mutex(State())
    private let items = DispatchSemaphore(value: 0)
    private let freeCount: DispatchSemaphore

    init(buffers: Int, bufferCapacity: Int) {
        // Created at 0 and raised: libdispatch traps when a semaphore is released with a value
        // below the one it was created with, which is how this queue ends when the producer
        // fails with chunks in flight.
        freeCount = DispatchSemaphore(value: 0)
        state.withLock { s in
            for _ in 0..<max(1, buffers) { s.free.append(ByteBuffer(capacity: bufferCapacity)) }
        }
        for _ in 0..<max(1, buffers) { freeCount.signal() }
    }

    /// Producer: an empty buffer to render into (waits while all are in use). Nil once the
    /// consumer stopped: the producer should return.
    func emptyBuffer() -> ByteBuffer? {
        freeCount.wait()
        return state.withLock { s -> ByteBuffer? in
            guard !s.cancelled, let buffer = s.free.popLast() else { return nil }
            buffer.removeAll()
            return buffer
        }
    }

    /// Producer: hands over a full buffer. False once the consumer stopped.
    func put(_ buffer: ByteBuffer) -> Bool {
        let queued = state.withLock { s -> Bool in
            guard !s.cancelled else { return false }
            s.full.append(buffer)
            return true
        }
        if queued { items.signal() }
        return queued
    }

    /// Producer: no more chunks (`error`: why).
    func finish(_ error: (any Error)?) {
        state.withLock { s in
            s.finished = true
            s.error = error
        }
        items.signal()
    }

    /// Consumer: the next full buffer (`recycle` it when sent); nil after the last; the
    /// producer's error if it failed.
    func take() throws -> ByteBuffer? {
        items.wait()
        let next: Result<ByteBuffer?, any Error> = state.withLock { s in
            if let error = s.error { return .failure(error) }
            if !s.full.isEmpty { return .success(s.full.removeFirst()) }
            return .success(nil)
        }
        return try next.get()
    }

    /// Consumer: a buffer whose bytes were sent, for the producer to fill again.
    func recycle(_ buffer: ByteBuffer) {
        state.withLock { $0.free.append(buffer) }
        freeCount.signal()
    }

    /// Consumer: stop the producer (`emptyBuffer` and `put` refuse from now on).
    func cancel() {
        state.withLock { $0.cancelled = true }
        freeCount.signal()
    }
}

/// Runs `produce` on a thread of its own and sends what it puts in the queue with `COPY`
/// on `connection`, on the calling thread. Returns when both are done; the first error of
/// either side is thrown (the COPY is then aborted and nothing of it is visible).
func copyThroughPipeline(
    _ connection: Connection, _ sql: String,
    produce: @escaping @Sendable (ChunkQueue) throws -> Void
) throws {
    let queue = ChunkQueue(buffers: 4, bufferCapacity: chunkSize + (chunkSize >> 2))
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        do {
            try produce(queue)
            queue.finish(nil)
        } catch {
            queue.finish(error)
        }
        done.signal()
    }
    thread.stackSize = 1 << 20
    thread.start()
    defer {
        queue.cancel()
        done.wait()
    }
    try connection.copyIn(sql) { (writer: inout CopyWriter) throws in
        while let chunk = try queue.take() {
            try writer.write(chunk.bytes)
            queue.recycle(chunk)
        }
    }
}

/// Bytes of COPY data the producer gathers before handing a buffer over.
let chunkSize = CopyWriter.chunkSize

/// A value written by one thread and read by another after it finished.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
}

/// Rejects of one file across passes over it: a file loaded again (rows out of order) reports
/// the same rejects in the same order, and only those not yet written are written.
final class RejectGate: Sendable {
    private let written = Atomic<Int>(0)

    /// A pass over the file: call `report` for each reject in order.
    struct Pass {
        let gate: RejectGate
        var index = 0

        /// True when this reject is new (write it and count it).
        mutating func isNew() -> Bool {
            index += 1
            guard index > gate.written.load(ordering: .relaxed) else { return false }
            gate.written.store(index, ordering: .relaxed)
            return true
        }
    }

    func pass() -> Pass { Pass(gate: self) }
}

/// One grouped file read group by group on demand (for the style merge): its reader,
/// `DocumentRows` in grouped mode, and the queue of groups from the last batch.
final class GroupSource {
    let reader: RecordReader
    var file: CatalogFile { reader.file }
    private let queue = GroupQueue()
    private let rows: DocumentRows
    private var exhausted = false
    private let unused = ByteBuffer(capacity: 64)
    private let onReject: (Reject) -> Void
    private let progress: FileProgress

    init(reader: RecordReader, progress: FileProgress, onReject: @escaping (Reject) -> Void) {
        self.reader = reader
        rows = DocumentRows(file: reader.file, mode: .grouped, queue: queue)
        self.onReject = onReject
        self.progress = progress
    }

    /// The next group; its bytes are valid until the next call.
    func next() throws -> GroupQueue.Group? {
        while queue.isEmpty {
            if exhausted { return nil }
            queue.reset()
            if try !rows.read(reader, into: unused, until: { [queue] _ in queue.bytes >= 256 << 10 }, onReject: onReject) {
                exhausted = true
            }
            progress.update(reader.stats)
        }
        return queue.pop()
    }
}

/// Joins styles.csv, skus.csv and photos.csv while they are read, when they are in the real
/// export's order (styles by product then id, with ids ascending; skus and photos grouped by
/// ascending style): per product, its finished `styles_doc`, as staging rows
/// `product_styles(product_id, n_styles, n_skus, n_photos, doc)`. The database then only
/// has to join one row per product, instead of looking up each style's skus and photos
/// (measured at full scale: ~9 M index probes, most of the build's time).
///
/// Styles whose product is not loaded, and their skus and photos, are dropped by that join
/// in SQL; skus and photos whose style is not in styles.csv are skipped here (both are
/// orphans in the report, which counts what was loaded). Files in another order throw
/// `RowsOutOfOrder`; the importer then loads them as separate staging tables.
final class StyleMerger {
    private let styles: GroupSource
    private let skus: GroupSource
    private let photos: GroupSource
    private let doc = ByteBuffer(capacity: 1 << 16)
    private var product = -1
    private var stylesCount = 0
    private var skusCount = 0
    private var photosCount = 0

    init(styles: GroupSource, skus: GroupSource, photos: GroupSource) {
        self.styles = styles
        self.skus = skus
        self.photos = photos
    }

    /// Writes binary COPY data for product_styles into `first`, handing each buffer that holds
    /// `chunkSize` bytes to `emit`, which returns the buffer to go on with (nil: stop); the last
    /// buffer goes to `emit` with `last` true.
    func run(into first: ByteBuffer, chunkSize: Int, emit: (_ full: ByteBuffer, _ last: Bool) throws -> ByteBuffer?) throws {
        var out = first
        BinaryCopy.appendHeader(out)
        var sku = try skus.next()
        var photo = try photos.next()
        var lastStyle = 0
        var lastProduct = -1
        while let style = try styles.next() {
            let id = style.firstId
            let productId = style.parent
            guard id > lastStyle && productId >= lastProduct else { throw RowsOutOfOrder(file: .styles) }
            lastStyle = id
            lastProduct = productId
            if productId != product {
                flushProduct(into: out)
                if out.count >= chunkSize {
                    guard let next = try emit(out, false) else { return }
                    out = next
                }
                startProduct(productId)
            } else {
                doc.append(0x2C)
            }
            doc.append(style.items.baseAddress!, style.items.count)

            // Photos and skus of styles before this one have no style: skip them.
            while let p = photo, p.parent < id { photo = try photos.next() }
            while let k = sku, k.parent < id { sku = try skus.next() }

            if let p = photo, p.parent == id {
                photosCount += try appendGroups(&photo, of: id, from: photos, open: 0x5B, close: 0x5D)
            } else {
                doc.append(LegacyDocuments.noPhotos)
            }
            doc.append(LegacyDocuments.skusKey)
            if let k = sku, k.parent == id {
                skusCount += try appendGroups(&sku, of: id, from: skus, open: 0x7B, close: 0x7D)
            } else {
                doc.append(LegacyDocuments.noSkus)
            }
            doc.append(LegacyDocuments.styleClose)
            stylesCount += 1
        }
        flushProduct(into: out)
        // The rest has no style; read it to the end all the same (counts, rejects).
        while photo != nil { photo = try photos.next() }
        while sku != nil { sku = try skus.next() }
        BinaryCopy.appendTrailer(out)
        _ = try emit(out, true)
    }

    /// A style's groups (one, or several when its rows were cut in two) as one container.
    private func appendGroups(_ group: inout GroupQueue.Group?, of style: Int, from source: GroupSource,
                              open: UInt8, close: UInt8) throws -> Int {
        var rows = 0
        doc.append(open)
        var first = true
        while let g = group, g.parent == style {
            if !first { doc.append(0x2C) }
            first = false
            // Without the group's own brackets.
            doc.append(g.items.baseAddress! + 1, g.items.count - 2)
            rows += g.count
            group = try source.next()
        }
        doc.append(close)
        return rows
    }

    private func startProduct(_ id: Int) {
        product = id
        stylesCount = 0
        skusCount = 0
        photosCount = 0
        doc.removeAll()
        doc.shrink(to: 1 << 20)
        doc.append(LegacyDocuments.stylesDocumentOpen)
        doc.appendDecimal(id)
        doc.append(LegacyDocuments.stylesResultsOpen)
    }

    private func flushProduct(into out: ByteBuffer) {
        guard product >= 0 else { return }
        doc.append(LegacyDocuments.stylesDocumentClose)
        out.appendInt16(5)
        BinaryCopy.appendInteger(product, to: out)
        BinaryCopy.appendInteger(stylesCount, to: out)
        BinaryCopy.appendInteger(skusCount, to: out)
        BinaryCopy.appendInteger(photosCount, to: out)
        out.appendInt32(Int32(doc.count))
        out.append(doc)
        product = -1
    }
}
