@testable import CatalogImport
import Foundation
import Testing

/// The queue between a file's producer thread and the thread that sends its COPY data: a
/// fixed set of buffers that go round.
@Suite("Chunk queue between producer and COPY")
struct ChunkQueueTests {
    struct Boom: Error {}

    /// Producer: `count` one-byte chunks, each in a buffer from the queue.
    func produce(_ queue: ChunkQueue, count: Int) -> Bool {
        for i in 0..<count {
            guard let b = queue.emptyBuffer() else { return false }
            b.append(UInt8(i & 0xFF))
            guard queue.put(b) else { return false }
        }
        return true
    }

    @Test func chunksArriveInOrderThenTheEnd() throws {
        let queue = ChunkQueue(buffers: 2, bufferCapacity: 64)
        let producer = Thread {
            _ = produce(queue, count: 10)
            queue.finish(nil)
        }
        producer.start()
        var got: [UInt8] = []
        var seen = Set<ObjectIdentifier>()
        while let chunk = try queue.take() {
            got += Array(chunk.bytes)
            seen.insert(ObjectIdentifier(chunk))
            queue.recycle(chunk)
        }
        #expect(got == Array(0..<10))
        // Ten chunks through two buffers: nothing allocated on the way.
        #expect(seen.count <= 2)
    }

    @Test func aProducerErrorReachesTheConsumerWithChunksStillQueued() throws {
        // The queue is dropped with chunks in it (a file found out of order mid-way): this
        // must neither hang nor trap.
        for _ in 0..<20 {
            let queue = ChunkQueue(buffers: 4, bufferCapacity: 64)
            #expect(produce(queue, count: 3))
            queue.finish(Boom())
            #expect(throws: Boom.self) { _ = try queue.take() }
            queue.cancel()
        }
    }

    @Test func aConsumerThatStopsReleasesABlockedProducer() throws {
        let queue = ChunkQueue(buffers: 1, bufferCapacity: 64)
        let done = DispatchSemaphore(value: 0)
        let refused = Shared(false)
        let producer = Thread {
            // Blocks in emptyBuffer once the only buffer is queued and not recycled.
            if !produce(queue, count: 1_000) { refused.withLock { $0 = true } }
            queue.finish(nil)
            done.signal()
        }
        producer.start()
        _ = try queue.take()
        queue.cancel()
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(refused.withLock { $0 })
    }
}
