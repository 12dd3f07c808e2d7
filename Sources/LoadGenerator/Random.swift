/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough statistically for choosing
/// ids, and trivially seedable. One generator per scheduled slot, seeded from (run seed, slot),
/// makes every request's id a pure function of `--seed` and its position in the schedule —
/// whatever the number of threads or the order responses come back in.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The generator for one slot of a run: the two words are mixed so that neighbouring slots
    /// (and neighbouring seeds) start far apart.
    public init(seed: UInt64, stream: UInt64) {
        self.init(seed: SplitMix64.mix(seed ^ SplitMix64.mix(stream &+ 0x9E37_79B9_7F4A_7C15)))
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform in 0..<bound (Lemire's multiply-shift; the bias for bounds of a few million is
    /// below 2^-40, far under anything a load test can see).
    public mutating func next(below bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        return next().multipliedFullWidth(by: bound).high
    }

    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
