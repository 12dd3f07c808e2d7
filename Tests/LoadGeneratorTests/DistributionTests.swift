import Testing
@testable import LoadGenerator

@Suite struct DistributionTests {
    @Test func uniformStaysInBoundsAndReachesBothEnds() {
        let sampler = IdSampler(.uniform, max: 10)
        var rng = SplitMix64(seed: 7)
        var seen = Set<Int>()
        for _ in 0..<10_000 {
            let id = sampler.sample(using: &rng)
            #expect((1...10).contains(id))
            seen.insert(id)
        }
        #expect(seen == Set(1...10))
    }

    @Test func last10IsTheLastTenthOfTheIds() {
        let full = IdSampler(.last10, max: 1_000_011)
        #expect(full.range == 900_011...1_000_011)
        var rng = SplitMix64(seed: 3)
        var low = Int.max, high = Int.min
        for _ in 0..<100_000 {
            let id = full.sample(using: &rng)
            low = min(low, id)
            high = max(high, id)
        }
        #expect(low >= 900_011 && low < 900_111)
        #expect(high <= 1_000_011 && high > 999_911)
        // Tiny catalogs still get at least one id.
        #expect(IdSampler(.last10, max: 5).range == 5...5)
        #expect(IdSampler(.last10, max: 100).range == 91...100)
    }

    @Test func zipfRankOneFrequencyMatchesTheDistribution() {
        // s = 1 over the full catalog: P(1) = 1 / H(1,000,011) ≈ 6.95%.
        let n = 1_000_011
        let zipf = ZipfSampler(n: n, exponent: 1.0)
        let p1 = ZipfSampler.probability(rank: 1, n: n, exponent: 1.0)
        #expect(abs(p1 - 0.0695) < 0.0005)
        var rng = SplitMix64(seed: 11)
        let draws = 400_000
        var counts = [Int](repeating: 0, count: 11)
        for _ in 0..<draws {
            let k = zipf.sample(using: &rng)
            #expect(k >= 1 && k <= n)
            if k <= 10 { counts[k] += 1 }
        }
        // Within 5 standard deviations of the binomial count, for ranks 1, 2 and 10.
        for k in [1, 2, 10] {
            let p = ZipfSampler.probability(rank: k, n: n, exponent: 1.0)
            let expected = p * Double(draws)
            let sigma = (Double(draws) * p * (1 - p)).squareRoot()
            #expect(abs(Double(counts[k]) - expected) < 5 * sigma, "rank \(k): \(counts[k]) vs \(expected)")
        }
    }

    @Test func zipfWithOtherExponentsAndSmallN() {
        for (n, s) in [(1, 1.0), (2, 1.0), (50, 0.8), (50, 1.3), (1000, 2.0)] {
            let zipf = ZipfSampler(n: n, exponent: s)
            var rng = SplitMix64(seed: UInt64(n))
            let draws = 100_000
            var counts = [Int](repeating: 0, count: n + 1)
            for _ in 0..<draws {
                let k = zipf.sample(using: &rng)
                #expect(k >= 1 && k <= n)
                counts[k] += 1
            }
            for k in [1, min(2, n), n] {
                let p = ZipfSampler.probability(rank: k, n: n, exponent: s)
                let expected = p * Double(draws)
                let sigma = max((Double(draws) * p * (1 - p)).squareRoot(), 1)
                #expect(abs(Double(counts[k]) - expected) < 5 * sigma + 1, "n \(n) s \(s) rank \(k): \(counts[k]) vs \(expected)")
            }
        }
    }

    @Test func permutationIsABijectionOfOneToN() {
        for n in [1, 2, 3, 4, 5, 7, 16, 17, 100, 1000, 4097, 65_537] {
            let perm = RankPermutation(n: n, seed: 12_345)
            var seen = [Bool](repeating: false, count: n + 1)
            for rank in 1...n {
                let id = perm.id(forRank: rank)
                #expect(id >= 1 && id <= n)
                #expect(!seen[id], "n \(n): id \(id) twice")
                seen[id] = true
            }
        }
    }

    @Test func permutationSpreadsTheHotIdsAndSeedZeroIsIdentity() {
        let n = 1_000_011
        let perm = RankPermutation(n: n, seed: RankPermutation.defaultSeed)
        let hot = (1...100).map { perm.id(forRank: $0) }
        #expect(Set(hot).count == 100)
        // The 100 hottest ids are spread over the table, not bunched at the start.
        #expect(hot.filter { $0 <= n / 10 }.count < 40)
        #expect(hot.filter { $0 > n / 2 }.count > 20)
        let identity = RankPermutation(n: n, seed: 0)
        #expect((1...1000).allSatisfy { identity.id(forRank: $0) == $0 })
    }

    @Test func permutationMatchesTheWrkScript() {
        // The same values are printed by `wrk -s Deploy/bench/wrk/catalog.lua … -- selftest=1`
        // (LuaJIT arithmetic): a Zipf run with wrk and one with products-load share the hot set.
        let perm = RankPermutation(n: 1_000_011, seed: RankPermutation.defaultSeed)
        #expect((1...5).map { perm.id(forRank: $0) } == ExpectedPermutation.first5)
        #expect(perm.id(forRank: 1_000_011) == ExpectedPermutation.last)
        let small = RankPermutation(n: 10_000, seed: 42)
        #expect((1...5).map { small.id(forRank: $0) } == ExpectedPermutation.small42)
    }

    @Test func zipfIdsAreSkewedAfterThePermutation() {
        let sampler = IdSampler(.zipf(exponent: 1.0), max: 1_000_011)
        let hottest = sampler.permutation.id(forRank: 1)
        var rng = SplitMix64(seed: 5)
        var hits = 0
        for _ in 0..<100_000 where sampler.sample(using: &rng) == hottest { hits += 1 }
        #expect(hits > 6_500 && hits < 7_400)   // ≈ 6.95%
    }

    @Test func requestsAreAPureFunctionOfSeedAndSlot() {
        let planner = RequestPlanner(workload: .single(.styles), ids: IdSampler(.uniform, max: 1_000_011), seed: 9)
        func ids(_ slots: [Int]) -> [Int] {
            slots.map { slot in
                var id = 0
                planner.forEachRequest(inSlot: slot) { _, target in id = target }
                return id
            }
        }
        #expect(ids([0, 1, 2, 3]) == ids([0, 1, 2, 3]))
        #expect(ids([3, 2, 1, 0]).reversed() == ids([0, 1, 2, 3]))   // order does not matter
        let other = RequestPlanner(workload: .single(.styles), ids: IdSampler(.uniform, max: 1_000_011), seed: 10)
        var differs = false
        other.forEachRequest(inSlot: 0) { _, target in differs = target != ids([0])[0] }
        #expect(differs)
    }

    @Test func aPageIsProductStylesRelatedForOneId() {
        let planner = RequestPlanner(workload: .page, ids: IdSampler(.uniform, max: 1000), seed: 1)
        for slot in 0..<50 {
            var requests: [(Route, Int)] = []
            planner.forEachRequest(inSlot: slot) { requests.append(($0, $1)) }
            #expect(requests.map(\.0) == [.product, .styles, .related])
            #expect(Set(requests.map(\.1)).count == 1)
        }
    }

    @Test func listPagesComeFromTheSameDistributionOverPages() {
        let planner = RequestPlanner(workload: .single(.list), ids: IdSampler(.last10, max: 1_000_011), listCount: 5, seed: 1)
        #expect(planner.pages.max == 200_003)
        #expect(planner.pages.range == 180_004...200_003)   // the last 20,000 of 200,003 pages
        for slot in 0..<1000 {
            planner.forEachRequest(inSlot: slot) { route, page in
                #expect(route == .list)
                #expect(planner.pages.range.contains(page))
            }
        }
    }

    @Test func mixFollowsItsWeights() {
        let planner = RequestPlanner(workload: .mix([.product: 1, .list: 3]), ids: IdSampler(.uniform, max: 100), seed: 2)
        var counts = [Route: Int]()
        for slot in 0..<40_000 {
            planner.forEachRequest(inSlot: slot) { route, _ in counts[route, default: 0] += 1 }
        }
        #expect(counts[.styles] == nil && counts[.related] == nil)
        #expect(abs(Double(counts[.list] ?? 0) / 40_000 - 0.75) < 0.02)
    }
}
