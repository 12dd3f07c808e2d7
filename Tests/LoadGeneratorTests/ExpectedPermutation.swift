/// Reference values of the Zipf rank → id permutation, as printed by
/// `wrk -t1 -c1 -d1s -s Deploy/bench/wrk/catalog.lua http://127.0.0.1:8080 -- selftest=1`.
/// If RankPermutation changes, catalog.lua must change the same way (and these values with it).
enum ExpectedPermutation {
    /// n = 1,000,011, seed 20240601 (the default), ranks 1…5.
    static let first5 = [733_490, 635_676, 794_220, 90_790, 17_685]
    /// n = 1,000,011, seed 20240601, rank 1,000,011.
    static let last = 222_892
    /// n = 10,000, seed 42, ranks 1…5.
    static let small42 = [639, 4203, 8333, 1978, 5789]
}
