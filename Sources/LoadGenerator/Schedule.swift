/// When each request is due: the open loop.
///
/// Requests are grouped in slots (one request per slot, or the three requests of a product page
/// sent together, as a browser would). Slot k is due at start + k × interval with
/// interval = requestsPerSlot / rate, whatever the server is doing: a slow answer never
/// delays the next send. Slots due in the warm-up are sent but not recorded; the run offers
/// requests for warm-up + duration, then waits for the stragglers (bounded by the timeout).
public struct Schedule: Sendable, Equatable {
    /// Offered requests per second.
    public let rate: Double
    public let requestsPerSlot: Int
    public let warmupNanoseconds: UInt64
    public let durationNanoseconds: UInt64

    public init(rate: Double, requestsPerSlot: Int = 1, warmupNanoseconds: UInt64, durationNanoseconds: UInt64) {
        precondition(rate > 0 && rate.isFinite, "rate must be > 0")
        precondition(requestsPerSlot >= 1)
        self.rate = rate
        self.requestsPerSlot = requestsPerSlot
        self.warmupNanoseconds = warmupNanoseconds
        self.durationNanoseconds = durationNanoseconds
    }

    /// Nanoseconds between two slots.
    public var slotInterval: Double { Double(requestsPerSlot) * 1e9 / rate }

    /// When slot k is due, in nanoseconds after the start: ⌊k × requestsPerSlot × 10⁹ / rate⌋,
    /// computed from k every time (no accumulated rounding; the product is exact in a Double up
    /// to 9 × 10⁶ requests, and the one division is correctly rounded).
    @inline(__always)
    public func offset(ofSlot slot: Int) -> UInt64 {
        UInt64((Double(slot * requestsPerSlot) * 1e9 / rate).rounded(.down))
    }

    /// Slots due before `nanoseconds` after the start.
    func slots(before nanoseconds: UInt64) -> Int {
        var k = Int((Double(nanoseconds) / slotInterval).rounded(.up))
        while k > 0 && offset(ofSlot: k - 1) >= nanoseconds { k -= 1 }
        while offset(ofSlot: k) < nanoseconds { k += 1 }
        return k
    }

    /// Every slot of the run (warm-up included): those due in [0, warm-up + duration).
    public var slotCount: Int { slots(before: warmupNanoseconds + durationNanoseconds) }

    /// The first slot that is recorded: the first due at or after the end of the warm-up.
    public var firstMeasuredSlot: Int { slots(before: warmupNanoseconds) }

    /// Slots recorded.
    public var measuredSlotCount: Int { slotCount - firstMeasuredSlot }

    public func isMeasured(_ slot: Int) -> Bool { slot >= firstMeasuredSlot }
}
