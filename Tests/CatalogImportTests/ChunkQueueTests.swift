@testable import CatalogImport
import Foundation
import Testing

/// The queue between a file's producer thread and the thread that sends its COPY data.
@Suite("Chunk queue between producer and COPY")
struct ChunkQueueTests {
    struct Boom: Error {}

    @Test func chunksArriveInOrderThenTheEnd() throws {
        let queue = ChunkQueue(capacity: 2)
        let producer = Thread {
            for i in 0..<10 { _ = queue.put([UInt8(i)]) }
            queue.finish(nil)
        }
        producer.start()
        var got: [UInt8] = []
        while let chunk = try queue.take() { got += chunk }
        #expect(got == Array(0..<10))
    }

    @Test func aProducerErrorReachesTheConsumerWithChunksStillQueued() throws {
        // The queue is dropped with chunks in it (a file found out of order mid-way): this
        // must neither hang nor trap.
        for _ in 0..<20 {
            let queue = ChunkQueue(capacity: 4)
            for i in 0..<3 { #expect(queue.put([UInt8(i)])) }
            queue.finish(Boom())
            #expect(throws: Boom.self) { _ = try queue.take() }
            queue.cancel()
        }
    }

    @Test func aConsumerThatStopsReleasesABlockedProducer() throws {
        let queue = ChunkQueue(capacity: 1)
        let done = DispatchSemaphore(value: 0)
        let refused = Shared(false)
        let producer = Thread {
            var i = 0
            while queue.put([UInt8(i & 0xFF)]) { i += 1 }
            refused.withLock { $0 = true }
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
