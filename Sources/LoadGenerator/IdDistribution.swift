/// Which product ids (or list pages) a run asks for.
public enum IdDistribution: Sendable, Equatable, CustomStringConvertible {
    /// Uniform over 1…max.
    case uniform
    /// Uniform over the last 10% of 1…max: the original project's test (its Loader.io runs
    /// asked for the last 10% of the product ids).
    case last10
    /// Zipf with exponent s over ranks 1…max, ranks mapped to ids by a seeded permutation.
    case zipf(exponent: Double)

    public var description: String {
        switch self {
        case .uniform: "uniform"
        case .last10: "last10"
        case .zipf(let s): "zipf(s=\(s))"
        }
    }
}

/// Draws ids from an `IdDistribution` over 1…max. A value: copy it into every thread.
public struct IdSampler: Sendable {
    public let distribution: IdDistribution
    public let max: Int
    /// The ids uniform and last10 draw from.
    public let range: ClosedRange<Int>
    private let zipf: ZipfSampler?
    public let permutation: RankPermutation

    /// - Parameter permutationSeed: the Zipf rank → id mapping (0 = identity).
    public init(_ distribution: IdDistribution, max: Int, permutationSeed: UInt32 = RankPermutation.defaultSeed) {
        precondition(max >= 1, "max id must be ≥ 1")
        self.distribution = distribution
        self.max = max
        switch distribution {
        case .uniform, .zipf:
            range = 1...max
        case .last10:
            // The last tenth, at least one id: 1,000,011 → 900,011…1,000,011 (100,001 ids).
            let count = Swift.max(1, max / 10)
            range = (max - count + 1)...max
        }
        if case .zipf(let s) = distribution {
            zipf = ZipfSampler(n: max, exponent: s)
        } else {
            zipf = nil
        }
        permutation = RankPermutation(n: max, seed: permutationSeed)
    }

    public func sample(using rng: inout SplitMix64) -> Int {
        if let zipf {
            return permutation.id(forRank: zipf.sample(using: &rng))
        }
        return range.lowerBound + Int(rng.next(below: UInt64(range.count)))
    }
}

extension RankPermutation {
    /// The permutation every run uses unless told otherwise (`--zipf-perm-seed`), so that the
    /// hot set is the same from run to run and between products-load and the wrk scripts.
    public static let defaultSeed: UInt32 = 20_240_601
}
