#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Zipf-distributed ranks 1…n: P(k) = k^-s / H(n, s), by rejection-inversion sampling
/// (W. Hörmann, G. Derflinger, "Rejection-inversion to generate variates from monotone discrete
/// distributions", ACM TOMACS 6(3), 1996; the same construction as Apache Commons' Zipf sampler).
///
/// O(1) memory and O(1) expected time per sample whatever n is (no CDF table: 1M ids cost
/// nothing), about 1.1 uniform draws per sample. Rank 1 is the most frequent.
public struct ZipfSampler: Sendable {
    public let n: Int
    public let exponent: Double
    private let hIntegralX1: Double
    private let hIntegralN: Double
    private let sBound: Double

    public init(n: Int, exponent s: Double) {
        precondition(n >= 1, "Zipf needs at least one element")
        precondition(s > 0 && s.isFinite, "Zipf exponent must be > 0")
        self.n = n
        exponent = s
        hIntegralX1 = Self.hIntegral(1.5, s) - 1.0
        hIntegralN = Self.hIntegral(Double(n) + 0.5, s)
        sBound = 2.0 - Self.hIntegralInverse(Self.hIntegral(2.5, s) - Self.h(2.0, s), s)
    }

    /// One rank in 1…n.
    public func sample(using rng: inout SplitMix64) -> Int {
        while true {
            let u = draw(rng.nextUnitDouble())
            if let k = accept(u) { return k }
        }
    }

    /// u uniform in (hIntegralX1, hIntegralN]
    func draw(_ unit: Double) -> Double {
        hIntegralN + unit * (hIntegralX1 - hIntegralN)
    }

    func accept(_ u: Double) -> Int? {
        let x = Self.hIntegralInverse(u, exponent)
        var k = Int((x + 0.5).rounded(.down))
        if k < 1 { k = 1 } else if k > n { k = n }
        if Double(k) - x <= sBound || u >= Self.hIntegral(Double(k) + 0.5, exponent) - Self.h(Double(k), exponent) {
            return k
        }
        return nil
    }

    /// The exact probability of rank k (for tests and for documentation): k^-s / H(n, s).
    public static func probability(rank k: Int, n: Int, exponent s: Double) -> Double {
        var harmonic = 0.0
        // Summed from the small terms up, for accuracy.
        for i in stride(from: n, through: 1, by: -1) { harmonic += pow(Double(i), -s) }
        return pow(Double(k), -s) / harmonic
    }

    // H(x) = ∫ h, with h(x) = x^-s; written through helper functions that stay accurate at s → 1.
    static func h(_ x: Double, _ s: Double) -> Double { exp(-s * log(x)) }

    static func hIntegral(_ x: Double, _ s: Double) -> Double {
        let logX = log(x)
        return helper2((1.0 - s) * logX) * logX
    }

    static func hIntegralInverse(_ x: Double, _ s: Double) -> Double {
        var t = x * (1.0 - s)
        if t < -1.0 { t = -1.0 }   // numerical safety; the exact value is never below -1
        return exp(helper1(t) * x)
    }

    /// log(1 + x) / x, with its series near 0.
    static func helper1(_ x: Double) -> Double {
        abs(x) > 1e-8 ? log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }

    /// (exp(x) - 1) / x, with its series near 0.
    static func helper2(_ x: Double) -> Double {
        abs(x) > 1e-8 ? expm1(x) / x : 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

/// A fixed, seeded bijection of 1…n onto itself, so that Zipf's hot ranks land on ids spread over
/// the whole table instead of 1, 2, 3… (which would all sit in the first pages of every index and
/// flatter the database's caches). A 4-round balanced Feistel network over the smallest
/// even-bit power of two ≥ n, with cycle walking back into 1…n: O(1) memory, a few ns per id.
///
/// The arithmetic is 32-bit (Wellons' lowbias32 as the round function) so that
/// `Deploy/bench/wrk/catalog.lua` computes the very same mapping in LuaJIT: a Zipf run with wrk
/// and one with products-load hit the same hot ids. Seed 0 is the identity (rank = id).
public struct RankPermutation: Sendable {
    public let n: Int
    public let seed: UInt32
    private let halfBits: UInt32
    private let mask: UInt32
    private let keys: (UInt32, UInt32, UInt32, UInt32)

    public init(n: Int, seed: UInt32) {
        precondition(n >= 1 && UInt64(n) <= UInt64(UInt32.max), "permutation size must be in 1…2^32-1")
        self.n = n
        self.seed = seed
        var bits: UInt32 = 2
        while (UInt64(1) << UInt64(bits)) < UInt64(n) { bits += 2 }
        halfBits = bits / 2
        mask = UInt32((UInt64(1) << UInt64(halfBits)) - 1)
        func key(_ i: UInt32) -> UInt32 { Self.lowbias32(seed &+ 0x9E37_79B9 &* (i + 1)) }
        keys = (key(0), key(1), key(2), key(3))
    }

    /// The id for rank r (both 1-based).
    public func id(forRank rank: Int) -> Int {
        if seed == 0 { return rank }
        var x = UInt32(rank - 1)
        repeat { x = encrypt(x) } while x >= UInt32(n)
        return Int(x) + 1
    }


    func encrypt(_ x: UInt32) -> UInt32 {
        var left = x >> halfBits
        var right = x & mask
        round(&left, &right, keys.0)
        round(&left, &right, keys.1)
        round(&left, &right, keys.2)
        round(&left, &right, keys.3)
        return (left << halfBits) | right
    }

    @inline(__always)
    private func round(_ left: inout UInt32, _ right: inout UInt32, _ key: UInt32) {
        let next = left ^ (Self.lowbias32(right ^ key) & mask)
        left = right
        right = next
    }

    /// Chris Wellons' lowbias32 integer hash.

    static func lowbias32(_ value: UInt32) -> UInt32 {
        var x = value
        x ^= x >> 16
        x &*= 0x7FEB_352D
        x ^= x >> 15
        x &*= 0x846C_A68B
        x ^= x >> 16
        return x
    }
}
