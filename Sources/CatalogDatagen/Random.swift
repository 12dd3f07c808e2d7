// Every random decision comes from one of two seeded sources, never from the system:
//
// - `KeyedHash`: a pure function of (seed, stream, n). All *structural* decisions (is product 17
//   live? how many styles does it have? which rows are damaged?) use it, so the writers of
//   different files, on different threads, agree on the catalog's shape without sharing state.
// - `Xoshiro256`: a sequential generator, one per file, for content that no other file needs
//   to know (names, sizes, quantities, photo choices).

/// The SplitMix64 finaliser: a strong 64-bit mixer.
@inline(__always)
func mix64(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z &>> 31)
}

private let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

/// A pure hash of an integer, keyed by the seed and a stream name.
struct KeyedHash: Sendable {
    let key: UInt64

    init(seed: UInt64, stream: StaticString) {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a of the stream name
        let p = stream.utf8Start
        for i in 0..<stream.utf8CodeUnitCount {
            h = (h ^ UInt64(p[i])) &* 0x0000_0100_0000_01B3
        }
        key = mix64(seed ^ mix64(h))
    }

    @inline(__always)
    func callAsFunction(_ n: Int) -> UInt64 {
        mix64(key &+ UInt64(bitPattern: Int64(n)) &* golden)
    }
}

/// xoshiro256** (Blackman & Vigna), seeded through SplitMix64.
struct Xoshiro256: Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    init(seed: UInt64, stream: StaticString) {
        var x = KeyedHash(seed: seed, stream: stream).key
        func next() -> UInt64 {
            x = x &+ golden
            return mix64(x)
        }
        s0 = next(); s1 = next(); s2 = next(); s3 = next()
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in 0..<n (multiply-shift; the bias is far below anything a test could see).
    @inline(__always)
    mutating func below(_ n: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(n)).high)
    }

    /// Uniform in range.
    @inline(__always)
    mutating func inRange(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    /// True with probability perMillion / 1,000,000.
    @inline(__always)
    mutating func chance(perMillion: Int) -> Bool {
        below(1_000_000) < perMillion
    }
}

/// Picks from a small discrete distribution given as percentages (summing to 100), using
/// a 100-entry lookup table so a pick is one modulo and one load.
struct PercentTable: Sendable {
    private let table: [UInt8]

    init(_ weights: [Int]) {
        precondition(weights.reduce(0, +) == 100, "percentages must sum to 100")
        var t: [UInt8] = []
        for (value, w) in weights.enumerated() {
            t.append(contentsOf: repeatElement(UInt8(value), count: w))
        }
        table = t
    }

    @inline(__always)
    func pick(_ bits: UInt64) -> Int { Int(table[Int(bits % 100)]) }

    /// The mean of the distribution, for docs and tests.
    var mean: Double { Double(table.reduce(0) { $0 + Int($1) }) / 100 }
}
