import SystemCalls
import CSystemShims
import ProductsAPI
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The worker pool's counters, in one shared mapping the master creates (php-fpm calls its own
/// the scoreboard): one slot per worker process, written only by that worker, read by whichever
/// worker answers `/_status`.
///
/// - **No lock on the hot path.** A worker updates its own slot with plain relaxed loads and
///   stores (one writer per word, so no locked instruction): a request costs two clock reads and
///   four stores. Readers sum the slots; a sum may be a few requests behind a worker that is
///   writing, never torn (each word is one aligned 64-bit access).
/// - **Counters survive worker restarts.** When the master reaps a worker it adds the slot into
///   the *retired* slot and frees it, under a sequence number (a seqlock) that readers check, so
///   totals never go backwards while the master lives. A new master (a service restart) starts
///   from zero, which Prometheus's `rate()` reads as a counter reset.
/// - **The mapping is a memfd**, passed to each worker as fd 3 (``workerDescriptor``): nothing
///   in the file system to clean up or to be read by another user.
///
/// Layout: 64-bit words; a header block, the retired block, then `slotCount` worker blocks, each
/// ``Block/words`` long (2 KB: no two processes write the same cache line).
public final class Scoreboard: @unchecked Sendable {
    /// Where the master puts the mapping in each worker (after the listening socket on fd 0).
    public static let workerDescriptor: Int32 = 3

    public let fileDescriptor: Int32
    private let words: UnsafeMutablePointer<UInt64>
    private let byteCount: Int
    public let slotCount: Int

    /// Slots for `workers` processes: twice as many, plus a few, so that a reload's new
    /// generation (started before the old one leaves) always finds free slots.
    public static func slots(forWorkers workers: Int) -> Int { workers * 2 + 2 }

    /// The master's: a new, zeroed mapping.
    public static func create(slots: Int, configuredWorkers: Int, now: UInt64 = Scoreboard.unixTime()) throws(SyscallError) -> Scoreboard {
        let fd = try syscall("memfd_create") { products_memfd_create("products-scoreboard") }
        let size = (2 + slots) * Block.bytes
        do {
            try syscall("ftruncate") { ftruncate(fd, off_t(size)) }
            let board = try Scoreboard(fileDescriptor: fd, byteCount: size, slotCount: slots)
            board.store(Header.magic, Header.magicValue)
            board.store(Header.version, Header.versionValue)
            board.store(Header.slotCount, UInt64(slots))
            board.store(Header.configuredWorkers, UInt64(configuredWorkers))
            board.store(Header.startedAt, now)
            return board
        } catch {
            close(fd)
            throw error
        }
    }

    /// A worker's: the master's mapping, inherited on `fd`.
    public static func attach(fileDescriptor fd: Int32) throws(SyscallError) -> Scoreboard {
        var info = stat()
        try syscall("fstat(scoreboard)") { fstat(fd, &info) }
        let board = try Scoreboard(fileDescriptor: fd, byteCount: Int(info.st_size), slotCount: nil)
        guard board.load(Header.magic) == Header.magicValue, board.load(Header.version) == Header.versionValue,
              (2 + board.slotCount) * Block.bytes <= board.byteCount
        else { throw SyscallError(function: "scoreboard on fd \(fd): not a scoreboard of this version", errno: EINVAL) }
        return board
    }

    /// `slotCount`: nil to read it from the header (a worker attaching).
    private init(fileDescriptor: Int32, byteCount: Int, slotCount: Int?) throws(SyscallError) {
        guard byteCount >= 2 * Block.bytes else {
            throw SyscallError(function: "scoreboard: mapping too small (\(byteCount) bytes)", errno: EINVAL)
        }
        let address = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_SHARED, fileDescriptor, 0)
        guard let address, address != MAP_FAILED else { throw SyscallError(function: "mmap(scoreboard)", errno: errno) }
        self.fileDescriptor = fileDescriptor
        self.byteCount = byteCount
        self.words = address.bindMemory(to: UInt64.self, capacity: byteCount / 8)
        self.slotCount = slotCount ?? Int(truncatingIfNeeded: products_atomic_load(words + Header.slotCount))
    }

    deinit {
        munmap(words, byteCount)
        close(fileDescriptor)
    }

    public static func unixTime() -> UInt64 { UInt64(max(0, time(nil))) }

    // MARK: - Master

    public func workerStarted() { add(Header.workersStarted, 1) }
    public func workerExitedUnexpectedly() { add(Header.workerRestarts, 1) }
    public func reloadStarted() { add(Header.reloads, 1) }

    /// Folds the slot of a reaped worker into the retired totals and frees it. The worker is
    /// gone: nobody else writes the slot. Readers retry while the sequence number is odd or moved.
    public func release(pid: pid_t) {
        guard let slot = slotIndex(of: pid) else { return }  // it died before claiming one
        let block = self.block(slot)
        let retired = self.block(-1)
        let sequence = words + Header.foldSequence
        products_atomic_store(sequence, products_atomic_load(sequence) + 1)
        products_atomic_fence()
        for offset in Block.counters {
            products_atomic_add_single_writer(retired + offset, products_atomic_load(block + offset))
            products_atomic_store(block + offset, 0)
        }
        products_atomic_store(block + Block.busy, 0)
        products_atomic_store(block + Block.generationLength, 0)
        products_atomic_store_release(sequence, products_atomic_load(sequence) + 1)
        products_atomic_store_release(block + Block.pid, 0)
    }

    // MARK: - Worker

    /// Takes a free slot for `pid`; nil when none is free (the worker then serves uncounted).
    public func claimSlot(pid: pid_t, now: UInt64 = Scoreboard.unixTime()) -> ScoreboardSlot? {
        for index in 0..<slotCount {
            let block = self.block(index)
            if products_atomic_compare_exchange(block + Block.pid, 0, UInt64(pid)) != 0 {
                products_atomic_store(block + Block.startedAt, now)
                return ScoreboardSlot(words: block)
            }
        }
        return nil
    }

    // MARK: - Readers

    /// The pool's state now: totals over every slot, live and retired.
    public func snapshot() -> ScoreboardSnapshot {
        var snapshot = ScoreboardSnapshot()
        let sequence = words + Header.foldSequence
        for _ in 0..<1000 {
            let before = products_atomic_load_acquire(sequence)
            if before & 1 == 1 { sched_yield(); continue }
            snapshot = read()
            products_atomic_fence()
            if products_atomic_load(sequence) == before { break }
        }
        return snapshot
    }

    private func read() -> ScoreboardSnapshot {
        var snapshot = ScoreboardSnapshot()
        snapshot.startedAt = load(Header.startedAt)
        snapshot.configuredWorkers = load(Header.configuredWorkers)
        snapshot.workersStarted = load(Header.workersStarted)
        snapshot.workerRestarts = load(Header.workerRestarts)
        snapshot.reloads = load(Header.reloads)
        snapshot.add(block: block(-1))
        for index in 0..<slotCount {
            let block = self.block(index)
            let pid = products_atomic_load_acquire(block + Block.pid)
            guard pid != 0 else { continue }
            // busy before the counts: an idle worker's last request is then in them.
            let busy = products_atomic_load_acquire(block + Block.busy) != 0
            snapshot.add(block: block)
            var requests: UInt64 = 0
            for offset in Block.requests { requests &+= products_atomic_load(block + offset) }
            snapshot.workers.append(.init(
                pid: Int32(truncatingIfNeeded: pid),
                busy: busy,
                startedAt: products_atomic_load(block + Block.startedAt),
                requests: requests,
                generation: ScoreboardSlot.generation(in: block)))
        }
        return snapshot
    }

    private func slotIndex(of pid: pid_t) -> Int? {
        (0..<slotCount).first { products_atomic_load(block($0) + Block.pid) == UInt64(pid) }
    }

    /// Block -1 is the retired totals; 0..<slotCount the workers'.
    private func block(_ index: Int) -> UnsafeMutablePointer<UInt64> { words + (index + 2) * Block.words }
    private func load(_ offset: Int) -> UInt64 { products_atomic_load(words + offset) }
    private func store(_ offset: Int, _ value: UInt64) { products_atomic_store(words + offset, value) }
    private func add(_ offset: Int, _ value: UInt64) {
        // The master is the header's only writer.
        products_atomic_add_single_writer(words + offset, value)
    }

    /// Word offsets in the header block.
    enum Header {
        static let magic = 0, version = 1, slotCount = 2, configuredWorkers = 3, workerRestarts = 4
        static let workersStarted = 5, startedAt = 6, foldSequence = 7, reloads = 8
        static let magicValue: UInt64 = 0x7072_6f64_7363_6f72  // "prodscor"
        static let versionValue: UInt64 = 1
    }

    /// Word offsets in a worker's (or the retired) block.
    enum Block {
        static let words = 256
        static let bytes = words * 8
        static let pid = 0, busy = 1, startedAt = 2, generationSequence = 3, generationLength = 4
        static let generationBytes = 5, generationCapacity = 56  // 7 words
        static let events = 12
        static let requests = (events + WorkerEvent.allCases.count)..<(events + WorkerEvent.allCases.count + MetricRoute.allCases.count * MetricStatus.count)
        static let latency = requests.upperBound..<(requests.upperBound + MetricRoute.allCases.count * LatencyBuckets.count)
        static let latencySum = latency.upperBound..<(latency.upperBound + MetricRoute.allCases.count)
        /// What a reaped worker's slot adds to the retired totals.
        static let counters = events..<latencySum.upperBound
    }
}

/// One worker's slot: only that worker writes it.
public struct ScoreboardSlot {
    fileprivate let words: UnsafeMutablePointer<UInt64>
    /// The generation last written (compared before writing: it changes once per import).
    private var generation: [UInt8] = []

    fileprivate init(words: UnsafeMutablePointer<UInt64>) {
        self.words = words
        generation.reserveCapacity(Scoreboard.Block.generationCapacity)
    }

    public func requestStarted() { products_atomic_store(words + Scoreboard.Block.busy, 1) }

    /// Counts the request, then clears busy: a reader that sees this worker idle sees its count.
    public func requestFinished(route: MetricRoute, status: Int, microseconds: UInt64) {
        let r = route.rawValue
        bump(Scoreboard.Block.requests.lowerBound + r * MetricStatus.count + MetricStatus.index(of: status))
        bump(Scoreboard.Block.latency.lowerBound + r * LatencyBuckets.count + LatencyBuckets.index(microseconds: microseconds))
        products_atomic_add_single_writer(words + Scoreboard.Block.latencySum.lowerBound + r, microseconds)
        products_atomic_store_release(words + Scoreboard.Block.busy, 0)
    }

    /// libfcgi refused the request after all: not counted, no longer busy.
    public func requestAbandoned() { products_atomic_store(words + Scoreboard.Block.busy, 0) }

    public func count(_ event: WorkerEvent) { bump(Scoreboard.Block.events + event.rawValue) }

    /// Records the catalog generation this worker last answered from (readers see it whole or
    /// retry: a per-slot sequence number).
    public mutating func servedGeneration(_ bytes: UnsafeRawBufferPointer) {
        let bytes = UnsafeRawBufferPointer(rebasing: bytes.prefix(Scoreboard.Block.generationCapacity))
        if generation.elementsEqual(bytes) { return }
        generation.removeAll(keepingCapacity: true)
        generation.append(contentsOf: bytes)
        let sequence = words + Scoreboard.Block.generationSequence
        products_atomic_store(sequence, products_atomic_load(sequence) + 1)
        products_atomic_fence()
        var packed = [UInt64](repeating: 0, count: Scoreboard.Block.generationCapacity / 8)
        packed.withUnsafeMutableBytes { $0.copyMemory(from: bytes) }
        for (index, word) in packed.enumerated() {
            products_atomic_store(words + Scoreboard.Block.generationBytes + index, word)
        }
        products_atomic_store(words + Scoreboard.Block.generationLength, UInt64(bytes.count))
        products_atomic_store_release(sequence, products_atomic_load(sequence) + 1)
    }

    private func bump(_ offset: Int) { products_atomic_add_single_writer(words + offset, 1) }

    fileprivate static func generation(in block: UnsafeMutablePointer<UInt64>) -> String? {
        let sequence = block + Scoreboard.Block.generationSequence
        for _ in 0..<100 {
            let before = products_atomic_load_acquire(sequence)
            if before & 1 == 1 { continue }
            let length = min(Int(products_atomic_load(block + Scoreboard.Block.generationLength)), Scoreboard.Block.generationCapacity)
            var packed = [UInt64](repeating: 0, count: Scoreboard.Block.generationCapacity / 8)
            for index in packed.indices { packed[index] = products_atomic_load(block + Scoreboard.Block.generationBytes + index) }
            products_atomic_fence()
            guard products_atomic_load(sequence) == before else { continue }
            guard length > 0 else { return nil }
            return packed.withUnsafeBytes { String(decoding: $0.prefix(length), as: UTF8.self) }
        }
        return nil
    }
}

/// The route a request counts under (the `route` label).
public enum MetricRoute: Int, CaseIterable, Sendable {
    case product, styles, related, list, health, status
    /// Refused before routing: unknown path, bad id or query, method not allowed.
    case unrouted

    public init(_ route: Route) {
        switch route {
        case .product: self = .product
        case .styles: self = .styles
        case .related: self = .related
        case .list: self = .list
        case .live, .ready: self = .health
        case .status: self = .status
        }
    }

    public var label: String {
        switch self {
        case .product: "product"
        case .styles: "styles"
        case .related: "related"
        case .list: "list"
        case .health: "health"
        case .status: "status"
        case .unrouted: "unrouted"
        }
    }
}

/// The statuses a worker answers, each counted apart; anything else under "other".
public enum MetricStatus {
    public static let codes = [200, 304, 400, 404, 405, 500, 503]
    public static var count: Int { codes.count + 1 }
    public static func index(of code: Int) -> Int { codes.firstIndex(of: code) ?? codes.count }
    public static func label(_ index: Int) -> String { index < codes.count ? String(codes[index]) : "other" }
}

/// The request-duration histogram's buckets: from the worker taking the request to the end of
/// writing the response (nginx's share and the network are in nginx's `$request_time`).
public enum LatencyBuckets {
    /// Upper bounds in microseconds; one more bucket above the last (+Inf).
    public static let upperBounds: [UInt64] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 250_000, 1_000_000]
    public static var count: Int { upperBounds.count + 1 }
    public static func index(microseconds: UInt64) -> Int {
        var index = 0
        while index < upperBounds.count && microseconds > upperBounds[index] { index += 1 }
        return index
    }
}

/// Things a worker counts besides requests.
public enum WorkerEvent: Int, CaseIterable, Sendable {
    /// A database connection made (the first request, or after a loss / the lifetime).
    case databaseConnects
    /// A connection attempt that failed (the request got 503).
    case databaseConnectFailures
    /// A connection found broken during a query (server restart, failover).
    case databaseConnectionsLost
    /// A standby cancelled a query to replay the primary's changes (retried elsewhere).
    case recoveryConflicts
    /// FastCGI connections accepted from nginx.
    case connectionsAccepted
    /// Kept connections closed to make room for a new one (least recently used, idle).
    case connectionsEvicted
    /// Connections dropped because their request stayed incomplete (``WorkerLoop/partialTimeout``).
    case incompleteRequestsDropped
    /// Requests answered 503 without a query: they had waited longer than --max-queue-time.
    case shedQueueTime
    /// Catalog answers of another generation than the one nginx keys its cache with
    /// (`PRODUCTS_CACHE_GENERATION`, when nginx sent one): kept by nginx 40-60 s, not until the
    /// next import. A few right after an import; growing: nginx's generation is stale
    /// (products-cache-generation stopped on an nginx host, or this host's replica is behind).
    case cacheGenerationOther

    public var label: String {
        switch self {
        case .databaseConnects: "database_connects"
        case .databaseConnectFailures: "database_connect_failures"
        case .databaseConnectionsLost: "database_connections_lost"
        case .recoveryConflicts: "database_recovery_conflicts"
        case .connectionsAccepted: "fastcgi_connections_accepted"
        case .connectionsEvicted: "fastcgi_connections_evicted"
        case .incompleteRequestsDropped: "fastcgi_incomplete_requests_dropped"
        case .shedQueueTime: "requests_shed_queue_time"
        case .cacheGenerationOther: "answers_other_cache_generation"
        }
    }
}

/// A reading of the scoreboard: plain values, for the status page.
public struct ScoreboardSnapshot: Sendable, Equatable {
    public struct Worker: Sendable, Equatable {
        public var pid: Int32
        public var busy: Bool
        public var startedAt: UInt64
        public var requests: UInt64
        public var generation: String?
    }

    public var startedAt: UInt64 = 0
    public var configuredWorkers: UInt64 = 0
    public var workersStarted: UInt64 = 0
    /// Workers that exited without being asked to (crashes, kills): each was respawned.
    public var workerRestarts: UInt64 = 0
    public var reloads: UInt64 = 0
    /// Live workers (a claimed slot), by pid.
    public var workers: [Worker] = []
    /// `[route][status index]`, ``MetricRoute`` × ``MetricStatus``.
    public var requests = [[UInt64]](repeating: [UInt64](repeating: 0, count: MetricStatus.count), count: MetricRoute.allCases.count)
    /// `[route][bucket]`, per bucket (not cumulative), ``LatencyBuckets``.
    public var latency = [[UInt64]](repeating: [UInt64](repeating: 0, count: LatencyBuckets.count), count: MetricRoute.allCases.count)
    public var latencySumMicroseconds = [UInt64](repeating: 0, count: MetricRoute.allCases.count)
    /// By ``WorkerEvent``.
    public var events = [UInt64](repeating: 0, count: WorkerEvent.allCases.count)

    public init() {}

    mutating func add(block: UnsafeMutablePointer<UInt64>) {
        for route in 0..<MetricRoute.allCases.count {
            for status in 0..<MetricStatus.count {
                requests[route][status] &+= products_atomic_load(block + Scoreboard.Block.requests.lowerBound + route * MetricStatus.count + status)
            }
            for bucket in 0..<LatencyBuckets.count {
                latency[route][bucket] &+= products_atomic_load(block + Scoreboard.Block.latency.lowerBound + route * LatencyBuckets.count + bucket)
            }
            latencySumMicroseconds[route] &+= products_atomic_load(block + Scoreboard.Block.latencySum.lowerBound + route)
        }
        for event in 0..<events.count { events[event] &+= products_atomic_load(block + Scoreboard.Block.events + event) }
    }
}
