/// Everything a run needs; the CLI fills it in.
public struct LoadTestConfiguration: Sendable {
    public var url: TargetURL
    public var workload: Workload
    public var distribution: IdDistribution
    public var maxId: Int
    public var permutationSeed: UInt32
    public var rate: Double
    /// Nanoseconds.
    public var duration: UInt64
    public var warmup: UInt64
    public var timeout: UInt64
    public var connections: Int
    /// Connections may grow to this many (≥ ``connections``): a request that finds every
    /// connection busy at its due time opens another instead of waiting for one, as a
    /// population of users on their own connections does (``connections`` = a fixed pool).
    public var maxConnections: Int
    /// The offered rate at the end of the measured window (a linear ramp from `rate`); nil: constant.
    public var rampTo: Double?
    /// A connection is closed after this many answers and a new one opened (loader.io's
    /// "clients per second": each client connects, sends its requests, leaves); nil: kept.
    public var requestsPerConnection: Int?
    public var threads: Int
    public var headers: [String]
    public var allow404: Bool
    public var seed: UInt64
    public var listCount: Int

    public init(url: TargetURL, workload: Workload, distribution: IdDistribution, maxId: Int,
                permutationSeed: UInt32 = RankPermutation.defaultSeed, rate: Double, duration: UInt64,
                warmup: UInt64, timeout: UInt64, connections: Int, threads: Int, headers: [String],
                allow404: Bool, seed: UInt64, listCount: Int = 5, maxConnections: Int? = nil,
                rampTo: Double? = nil, requestsPerConnection: Int? = nil) {
        self.rampTo = rampTo
        self.requestsPerConnection = requestsPerConnection
        self.url = url
        self.workload = workload
        self.distribution = distribution
        self.maxId = maxId
        self.permutationSeed = permutationSeed
        self.rate = rate
        self.duration = duration
        self.warmup = warmup
        self.timeout = timeout
        self.connections = connections
        self.maxConnections = max(connections, maxConnections ?? connections)
        self.threads = threads
        self.headers = headers
        self.allow404 = allow404
        self.seed = seed
        self.listCount = listCount
    }

    public var schedule: Schedule {
        Schedule(rate: rate, requestsPerSlot: workload.requestsPerSlot,
                 warmupNanoseconds: warmup, durationNanoseconds: duration, rampTo: rampTo)
    }
}
