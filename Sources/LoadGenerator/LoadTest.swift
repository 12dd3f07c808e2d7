#if os(Linux)
import Foundation
import Glibc
import Synchronization

/// A progress line while the run goes.
public struct LoadProgress: Sendable {
    /// Seconds since the first scheduled request.
    public var elapsed: Double
    public var warmingUp: Bool
    public var sent: Int
    public var completed: Int
    public var failed: Int
    /// Requests due but not yet written (no free connection).
    public var waiting: Int
}

public enum LoadTest {
    /// Each connection is a descriptor: thousands of them need more than a shell's usual soft
    /// limit (1024). Raised to the hard limit, as nginx's worker_rlimit_nofile does.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// Runs the open loop on `threads` event-loop threads; this thread only sleeps, samples the
    /// process's CPU time over the measured window, and reports progress every few seconds.
    public static func run(_ config: LoadTestConfiguration,
                           progressEvery: Double = 5,
                           progress: (@Sendable (LoadProgress) -> Void)? = nil) throws(LoadError) -> LoadReport {
        guard config.threads >= 1, config.connections >= config.threads else {
            throw .invalidArgument("--connections must be ≥ --threads ≥ 1")
        }
        let address = try SocketAddress.resolve(host: config.url.host, port: config.url.port)
        try address.probe()
        signal(SIGPIPE, SIG_IGN)
        raiseDescriptorLimit()

        let schedule = config.schedule
        let ids = IdSampler(config.distribution, max: config.maxId, permutationSeed: config.permutationSeed)
        let planner = RequestPlanner(workload: config.workload, ids: ids, listCount: config.listCount, seed: config.seed)
        let encoder = HTTPRequestEncoder(target: config.url, headers: config.headers, listCount: config.listCount)
        let counters = LiveCounters()
        // Time for the pool to connect before the first request is due.
        let start = monotonicNanoseconds() + 200_000_000
        let startWall = Date().addingTimeInterval(0.2)

        let results = Mutex<[Int: Result<(RunStatistics, Bool), LoadError>]>([:])
        let group = DispatchGroup()
        for index in 0..<config.threads {
            let share = config.connections / config.threads + (index < config.connections % config.threads ? 1 : 0)
            let maxShare = config.maxConnections / config.threads + (index < config.maxConnections % config.threads ? 1 : 0)
            let workerConfig = WorkerConfiguration(
                address: address, encoder: encoder, planner: planner, schedule: schedule, start: start,
                index: index, threads: config.threads, connections: share, maxConnections: max(share, maxShare),
                requestsPerConnection: config.requestsPerConnection,
                timeout: config.timeout,
                allow404: config.allow404, counters: counters)
            group.enter()
            let thread = Thread {
                let outcome: Result<(RunStatistics, Bool), LoadError>
                do throws(LoadError) {
                    let worker = try EventLoopWorker(workerConfig)
                    outcome = .success((worker.run(), worker.preciseTimeouts))
                } catch {
                    outcome = .failure(error)
                }
                results.withLock { $0[index] = outcome }
                group.leave()
            }
            thread.name = "products-load-\(index)"
            thread.start()
        }

        let measureStart = start + schedule.offset(ofSlot: schedule.firstMeasuredSlot)
        let measureEnd = start + config.warmup + config.duration
        func report(_ now: UInt64) {
            guard let progress else { return }
            progress(LoadProgress(
                elapsed: Double(Int64(bitPattern: now &- start)) / 1e9, warmingUp: now < measureStart,
                sent: counters.sent.load(ordering: .relaxed), completed: counters.completed.load(ordering: .relaxed),
                failed: counters.failed.load(ordering: .relaxed), waiting: counters.waiting.load(ordering: .relaxed)))
        }
        // Progress until the measured window opens, then the CPU sample, progress, CPU sample.
        let step = UInt64(max(progressEvery, 0.5) * 1e9)
        var next = start + step
        while next < measureStart {
            sleep(untilMonotonic: next)
            report(next)
            next += step
        }
        sleep(untilMonotonic: measureStart)
        let cpu0 = processCPUTime()
        let wall0 = monotonicNanoseconds()
        while next < measureEnd {
            sleep(untilMonotonic: next)
            report(next)
            next += step
        }
        sleep(untilMonotonic: measureEnd)
        let cpu1 = processCPUTime()
        let wall1 = monotonicNanoseconds()
        group.wait()

        var total = RunStatistics()
        var precise = true
        for (_, outcome) in results.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            switch outcome {
            case .success(let (stats, p)):
                total.merge(stats)
                precise = precise && p
            case .failure(let error):
                throw error
            }
        }
        let cpu = LoadReport.GeneratorCost(
            threads: config.threads,
            userSeconds: Double(cpu1.user - cpu0.user) / 1e9,
            systemSeconds: Double(cpu1.system - cpu0.system) / 1e9,
            wallSeconds: Double(wall1 - wall0) / 1e9,
            preciseTimer: precise)
        return LoadReport(config: config, startedAt: startWall, statistics: total,
                          measureStart: measureStart, generator: cpu)
    }
}
#endif
