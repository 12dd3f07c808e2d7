import Testing
@testable import ProductsServer

@Suite struct KeptConnectionsTests {
    let t0 = ContinuousClock.now

    @Test func makesRoomWithTheLeastRecentlyUsedIdleConnectionOnly() {
        var kept = KeptConnections(capacity: 3, partialTimeout: .seconds(1))
        kept.accepted(10); kept.accepted(11); kept.accepted(12)
        #expect(kept.isFull)
        #expect(kept.peeked(10, .complete, now: t0) == .serve(10))
        #expect(kept.peeked(11, .incomplete, now: t0) == .wait)
        // 12 is the least recently used; 11 holds half a request and is never a candidate.
        #expect(kept.evictionCandidates == [12, 10])
        #expect(kept.canTakeAConnection)
    }

    /// What bounds a request's queue time (WorkerLoop.queueTime): when the worker last saw
    /// nothing to read on its connection; a new connection starts with the listener's time.
    @Test func aConnectionRemembersWhenItWasLastSeenQuiet() {
        var kept = KeptConnections(capacity: 4, partialTimeout: .seconds(1))
        kept.accepted(10); kept.accepted(11, quietSince: t0); kept.accepted(12)
        #expect(kept.quietSince(of: 10) == nil)
        #expect(kept.quietSince(of: 11) == t0)
        let t1 = t0 + .milliseconds(5)
        kept.sawQuiet([10, 12], at: t1)  // 11 was readable
        #expect(kept.quietSince(of: 10) == t1)
        #expect(kept.quietSince(of: 11) == t0)
        #expect(kept.quietSince(of: 12) == t1)
        // Out of the poll set's order: the walk stops, nothing is marked wrongly.
        let t2 = t1 + .milliseconds(5)
        kept.sawQuiet([12, 10], at: t2)
        #expect(kept.quietSince(of: 12) == t2)
        #expect(kept.quietSince(of: 10) == t1)
        #expect(kept.quietSince(of: 99) == nil)
    }

    @Test func makingRoomSkipsAConnectionWithUnreadInputAndSaysWhenNoneCanGo() {
        var kept = KeptConnections(capacity: 3, partialTimeout: .seconds(1))
        kept.accepted(10)
        #expect(kept.makeRoom(hasUnreadInput: { _ in false }) == .free)  // a slot is free
        kept.accepted(11); kept.accepted(12)
        #expect(kept.peeked(11, .incomplete, now: t0) == .wait)
        // 10 is the least recently used, but nginx has just written a request on it.
        var asked: [Int32] = []
        #expect(kept.makeRoom(hasUnreadInput: { asked.append($0); return $0 == 10 }) == .evicted(12))
        #expect(asked == [10, 12])  // 11 (half a request) is never a candidate
        #expect(kept.entries.map(\.fd) == [10, 11])
        kept.accepted(13)
        // Every candidate busy: nothing is closed, the new connection waits.
        #expect(kept.makeRoom(hasUnreadInput: { _ in true }) == .none)
        #expect(kept.entries.map(\.fd) == [10, 11, 13])
    }

    @Test func anIncompleteRequestIsPeekedOnATimerAndClosedAfterTheTimeout() {
        var kept = KeptConnections(capacity: 2, partialTimeout: .seconds(1))
        kept.accepted(5)
        #expect(kept.pollTimeout(idle: .seconds(1)) == .seconds(1))
        #expect(kept.peeked(5, .incomplete, now: t0) == .wait)
        #expect(kept.awaitingInput.isEmpty && kept.incomplete == [5])
        #expect(kept.pollTimeout(idle: .seconds(1)) == KeptConnections.recheckInterval)
        #expect(kept.peeked(5, .incomplete, now: t0 + .milliseconds(999)) == .wait)
        #expect(kept.peeked(5, .incomplete, now: t0 + .seconds(1)) == .close(5, .incompleteTooLong))
        #expect(kept.entries.isEmpty)
    }

    @Test func aRequestThatCompletesInTimeIsServedAndTheConnectionPolledAgain() {
        var kept = KeptConnections(capacity: 1, partialTimeout: .seconds(1))
        kept.accepted(5)
        _ = kept.peeked(5, .incomplete, now: t0)
        #expect(!kept.canTakeAConnection, "full, and nothing can make room")
        #expect(kept.peeked(5, .complete, now: t0 + .milliseconds(10)) == .serve(5))
        #expect(kept.awaitingInput == [5] && kept.incomplete.isEmpty)
        #expect(kept.canTakeAConnection)
    }

    @Test func closedAndMalformedConnectionsAreForgotten() {
        var kept = KeptConnections(capacity: 2, partialTimeout: .seconds(1))
        kept.accepted(5); kept.accepted(6)
        #expect(kept.peeked(5, .closed, now: t0) == .close(5, .peerClosed))
        #expect(kept.peeked(6, .malformed, now: t0) == .close(6, .malformed))
        #expect(kept.entries.isEmpty)
    }

    // MARK: - FastCGIRequestScan

    static func record(_ type: UInt8, _ length: Int, padding: UInt8 = 0) -> [UInt8] {
        [1, type, 0, 1, UInt8(length >> 8), UInt8(length & 0xff), padding, 0] + [UInt8](repeating: 7, count: length + Int(padding))
    }

    static let whole = record(1, 8) + record(4, 300, padding: 4) + record(4, 0) + record(5, 0)

    func scan(_ bytes: [UInt8]) -> KeptConnections.Peek {
        bytes.withUnsafeBytes { FastCGIRequestScan.scan($0) }
    }

    @Test func aRequestIsCompleteOnlyWithItsEmptySTDINRecord() {
        #expect(scan(Self.whole) == .complete)
        for cut in [1, 3, 8, 15, 16, 100, Self.whole.count - 1] {
            #expect(scan(Array(Self.whole.prefix(cut))) == .incomplete, "cut at \(cut)")
        }
        #expect(scan(Self.record(5, 0)) == .incomplete, "STDIN end without BEGIN_REQUEST")
    }

    @Test func notFastCGIOrTooLargeIsMalformed() {
        #expect(scan(Array("GET / HTTP/1.1\r\n".utf8)) == .malformed)
        let huge = Self.record(1, 8) + [UInt8]((0..<20).flatMap { _ in Self.record(4, 4000) })
        #expect(scan(huge) == .malformed)
    }
}
