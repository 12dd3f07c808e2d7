import CSystemShims
import SystemCalls
import Testing
@testable import ProductsServer
#if canImport(Glibc)
import Glibc
#endif

/// The scoreboard in one process: the same mapping attached twice stands for the master and a
/// worker (no sockets, no child processes).
@Suite struct ScoreboardTests {
    @Test func aWorkerCountsInItsSlotAndTheSnapshotSumsThem() throws {
        let master = try Scoreboard.create(slots: 4, configuredWorkers: 2, now: 1_000)
        let worker = try Scoreboard.attach(fileDescriptor: dup(master.fileDescriptor))
        var slot = try #require(worker.claimSlot(pid: 4242, now: 1_010))
        slot.requestStarted()
        #expect(master.snapshot().workers.map(\.busy) == [true])
        slot.requestFinished(route: .styles, status: 200, microseconds: 300)
        slot.requestFinished(route: .styles, status: 200, microseconds: 1_200_000)
        slot.requestFinished(route: .product, status: 404, microseconds: 90)
        slot.requestFinished(route: .unrouted, status: 418, microseconds: 10)
        slot.count(.databaseConnects)
        "20261202_080000_1_abc".utf8CString.withUnsafeBytes { slot.servedGeneration(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }

        let snapshot = master.snapshot()
        #expect(snapshot.startedAt == 1_000 && snapshot.configuredWorkers == 2)
        #expect(snapshot.workers == [.init(pid: 4242, busy: false, startedAt: 1_010, requests: 4, generation: "20261202_080000_1_abc")])
        #expect(snapshot.requests[MetricRoute.styles.rawValue][MetricStatus.index(of: 200)] == 2)
        #expect(snapshot.requests[MetricRoute.product.rawValue][MetricStatus.index(of: 404)] == 1)
        #expect(snapshot.requests[MetricRoute.unrouted.rawValue][MetricStatus.count - 1] == 1)  // "other"
        #expect(snapshot.latency[MetricRoute.styles.rawValue][LatencyBuckets.index(microseconds: 300)] == 1)
        #expect(snapshot.latency[MetricRoute.styles.rawValue][LatencyBuckets.count - 1] == 1)  // +Inf
        #expect(snapshot.latencySumMicroseconds[MetricRoute.styles.rawValue] == 1_200_300)
        #expect(snapshot.events[WorkerEvent.databaseConnects.rawValue] == 1)
    }

    @Test func aReapedWorkersCountsStayInTheTotalsAndItsSlotIsFreed() throws {
        let board = try Scoreboard.create(slots: 1, configuredWorkers: 1)
        let first = try #require(board.claimSlot(pid: 100))
        #expect(board.claimSlot(pid: 101) == nil)  // one slot only
        first.requestFinished(route: .list, status: 200, microseconds: 5)
        first.requestStarted()  // killed in the middle of a request
        board.workerStarted()
        board.workerExitedUnexpectedly()
        board.release(pid: 100)
        board.release(pid: 999)  // never claimed: nothing happens
        var snapshot = board.snapshot()
        #expect(snapshot.workers.isEmpty)
        #expect(snapshot.requests[MetricRoute.list.rawValue][0] == 1)
        #expect(snapshot.workersStarted == 1 && snapshot.workerRestarts == 1)

        let second = try #require(board.claimSlot(pid: 101))
        second.requestFinished(route: .list, status: 200, microseconds: 5)
        snapshot = board.snapshot()
        #expect(snapshot.workers.map(\.requests) == [1])  // the new worker's own count
        #expect(snapshot.workers.map(\.busy) == [false])
        #expect(snapshot.requests[MetricRoute.list.rawValue][0] == 2)  // the pool's total
    }

    @Test func attachRefusesSomethingElse() throws {
        let fd = memfdForTest()
        #expect(throws: SyscallError.self) { try Scoreboard.attach(fileDescriptor: fd) }
    }

    @Test func latencyBuckets() {
        #expect(LatencyBuckets.index(microseconds: 0) == 0)
        #expect(LatencyBuckets.index(microseconds: 100) == 0)  // le="0.0001" includes 100 µs
        #expect(LatencyBuckets.index(microseconds: 101) == 1)
        #expect(LatencyBuckets.index(microseconds: 1_000_001) == LatencyBuckets.count - 1)
        #expect(MetricStatus.index(of: 503) == MetricStatus.codes.count - 1)
        #expect(MetricStatus.label(MetricStatus.count - 1) == "other")
    }

    /// 64 KB of zeros: the size of a scoreboard, without its header.
    private func memfdForTest() -> Int32 {
        let fd = products_memfd_create("test")
        ftruncate(fd, 64 * 1024)
        return fd
    }
}
