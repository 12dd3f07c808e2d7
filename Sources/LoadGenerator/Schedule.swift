/// When each request is due: the open loop.
///
/// Requests are grouped in slots (one request per slot, or the three requests of a product page
/// sent together, as a browser would). Slot k is due at start + k × interval with
/// interval = requestsPerSlot / rate, whatever the server is doing: a slow answer never
/// delays the next send. Slots due in the warm-up are sent but not recorded; the run offers
/// requests for warm-up + duration, then waits for the stragglers (bounded by the timeout).
///
/// A ramp (loader.io's "clients per second" from A to B over the test): the warm-up is offered
/// at `rate`, and the measured window's rate rises (or falls) linearly from `rate` to `rampTo`.
public struct Schedule: Sendable, Equatable {
    /// Offered requests per second (at the start, when ramping).
    public let rate: Double
    /// The rate at the end of the measured window; nil: a constant rate.
    public let rampTo: Double?
    public let requestsPerSlot: Int
    public let warmupNanoseconds: UInt64
    public let durationNanoseconds: UInt64

    public init(rate: Double, requestsPerSlot: Int = 1, warmupNanoseconds: UInt64, durationNanoseconds: UInt64,
                rampTo: Double? = nil) {
        precondition(rate > 0 && rate.isFinite, "rate must be > 0")
        precondition(rampTo.map { $0 > 0 && $0.isFinite } ?? true, "rampTo must be > 0")
        precondition(requestsPerSlot >= 1)
        self.rate = rate
        self.rampTo = rampTo == rate ? nil : rampTo
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
        guard let rampTo else { return UInt64((Double(slot * requestsPerSlot) * 1e9 / rate).rounded(.down)) }
        // Requests offered by time t: rate × t through the warm-up W, then
        // rate × W + rate × u + (rampTo − rate) × u² / (2D) for u = t − W in the window D.
        let n = Double(slot * requestsPerSlot)
        let warmup = Double(warmupNanoseconds) / 1e9, window = Double(durationNanoseconds) / 1e9
        let inWarmup = rate * warmup
        if n < inWarmup || window <= 0 { return UInt64((n * 1e9 / rate).rounded(.down)) }
        let end = rate * window + (rampTo - rate) * window / 2   // requests in the window
        // Past the window (the last slots' rounding): at the final rate.
        if n - inWarmup >= end { return UInt64(((warmup + window + (n - inWarmup - end) / rampTo) * 1e9).rounded(.down)) }
        let a = (rampTo - rate) / (2 * window), b = rate, c = inWarmup - n
        // The smaller non-negative root, in the form that does not cancel (c ≤ 0, b > 0).
        let u = 2 * (-c) / (b + max(0, b * b - 4 * a * c).squareRoot())
        return UInt64(((warmup + u) * 1e9).rounded(.down))
    }

    /// The offered rate at `nanoseconds` after the start.
    public func rate(at nanoseconds: UInt64) -> Double {
        guard let rampTo, nanoseconds > warmupNanoseconds, durationNanoseconds > 0 else { return rate }
        let u = min(1, Double(nanoseconds - warmupNanoseconds) / Double(durationNanoseconds))
        return rate + (rampTo - rate) * u
    }

    /// Slots due before `nanoseconds` after the start.
    func slots(before nanoseconds: UInt64) -> Int {
        var k = Int((Double(nanoseconds) / slotInterval).rounded(.up))
        if let rampTo {
            // A first guess from the requests offered by then (the search below makes it exact).
            let t = Double(nanoseconds) / 1e9, w = Double(warmupNanoseconds) / 1e9
            let u = min(max(0, t - w), Double(durationNanoseconds) / 1e9), d = max(1e-9, Double(durationNanoseconds) / 1e9)
            let offered = rate * min(t, w) + rate * u + (rampTo - rate) * u * u / (2 * d)
            k = Int((offered / Double(requestsPerSlot)).rounded(.up))
        }
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
