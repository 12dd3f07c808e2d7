import Foundation
import Histogram

/// The result of one run: what `--json` writes and what the table on stdout shows.
/// Latencies are microseconds measured from each request's scheduled send time.
public struct LoadReport: Codable, Sendable {
    public struct Latency: Codable, Sendable, Equatable {
        public var count: UInt64
        public var p50: UInt64
        public var p90: UInt64
        public var p99: UInt64
        public var p999: UInt64
        public var max: UInt64
        public var mean: Double

        public init(_ h: LatencyHistogram) {
            count = h.totalCount
            guard count > 0 else {
                p50 = 0; p90 = 0; p99 = 0; p999 = 0; max = 0; mean = 0
                return
            }
            p50 = h.valueAtPercentile(50)
            p90 = h.valueAtPercentile(90)
            p99 = h.valueAtPercentile(99)
            p999 = h.valueAtPercentile(99.9)
            max = h.max
            mean = (h.mean * 10).rounded() / 10
        }
    }

    public struct Settings: Codable, Sendable {
        public var url: String
        public var route: String
        public var ids: String
        public var zipfS: Double?
        public var zipfPermSeed: UInt32?
        public var maxId: Int
        public var rate: Double
        public var durationS: Double
        public var warmupS: Double
        public var timeoutS: Double
        public var connections: Int
        /// The pool's ceiling when it may grow (nil: a fixed pool of `connections`).
        public var maxConnections: Int?
        public var rampTo: Double?
        public var requestsPerConnection: Int?
        public var threads: Int
        public var headers: [String]
        public var allow404: Bool
        public var seed: UInt64
        public var listCount: Int
    }

    public struct Errors: Codable, Sendable {
        /// http + timeouts + socket
        public var total: Int
        /// total / scheduled
        public var rate: Double
        /// Responses that are not 2xx (404 counts unless --allow-404).
        public var http: Int
        public var timeouts: Int
        public var socket: Int
        /// Failed connection attempts (requests waiting behind them show up as latency/timeouts).
        public var connectFailures: Int
        /// Requests resent once after a keep-alive connection closed before any answer.
        public var retries: Int
    }

    public struct Cache: Codable, Sendable {
        /// X-Cache-Status values: HIT, MISS, EXPIRED, STALE, UPDATING, REVALIDATED, BYPASS,
        /// other, absent (no header).
        public var counts: [String: Int]
        /// HIT / responses that carried the header.
        public var hitRatio: Double
    }

    public struct RouteResult: Codable, Sendable {
        public var count: Int
        public var latencyUs: Latency
    }

    public struct PageResult: Codable, Sendable {
        public var count: Int
        /// Pages with at least one failed request.
        public var errors: Int
        /// Scheduled time → the last of the page's three answers.
        public var latencyUs: Latency
    }

    public struct GeneratorCost: Codable, Sendable {
        public var threads: Int
        public var userSeconds: Double
        public var systemSeconds: Double
        public var wallSeconds: Double
        /// epoll_pwait2 (ns timeouts) was available; otherwise sends could be up to 1 ms late.
        public var preciseTimer: Bool
        /// CPU time of the whole generator process over the measured window, in % of one core.
        public var cpuPercentOfOneCore: Double

        public init(threads: Int, userSeconds: Double, systemSeconds: Double, wallSeconds: Double, preciseTimer: Bool) {
            self.threads = threads
            self.userSeconds = (userSeconds * 1000).rounded() / 1000
            self.systemSeconds = (systemSeconds * 1000).rounded() / 1000
            self.wallSeconds = (wallSeconds * 1000).rounded() / 1000
            self.preciseTimer = preciseTimer
            cpuPercentOfOneCore = wallSeconds > 0 ? ((userSeconds + systemSeconds) / wallSeconds * 1000).rounded() / 10 : 0
        }
    }

    public var tool = "products-load"
    public var startedAt: String
    public var settings: Settings
    public var offeredRps: Double
    /// Requests scheduled in the measured window.
    public var scheduled: Int
    /// ... answered with a complete HTTP response (any status) within the timeout.
    public var answered: Int
    /// ... answered after their timeout (they count as timeouts; the server still served them).
    public var lateAnswers: Int
    /// ... answered 2xx (or 404 with --allow-404).
    public var ok: Int
    /// Seconds the answers took to arrive: the duration, or longer if the last answers came
    /// after the window closed (a server that cannot keep up).
    public var windowS: Double
    /// (answered + lateAnswers) / windowS: what the server delivered.
    public var achievedRps: Double
    /// ok / windowS: answered 2xx within the timeout, what clients got.
    public var okRps: Double
    public var latencyUs: Latency
    /// The 5xx answers' latency (nil when there were none): how fast the server refuses.
    public var refusedLatencyUs: Latency?
    /// The same answers from the request's first write (without the generator's lateness).
    public var refusedServiceLatencyUs: Latency?
    /// The same answers from the first write to their arrival (the kernel's receive timestamp).
    public var refusedWireLatencyUs: Latency?
    public var errors: Errors
    /// Responses per HTTP status ("0" = a status outside 100…599).
    public var statusCounts: [String: Int]
    /// Present when any response carried X-Cache-Status.
    public var cache: Cache?
    /// Per route, when the run used more than one.
    public var routes: [String: RouteResult]?
    public var page: PageResult?
    /// Scheduled time → first write: the generator's own lateness plus waits for a free connection.
    public var sendDelayUs: Latency
    /// Requests that found every connection busy at their due time (raise --connections if the
    /// server is not the bottleneck).
    public var queuedForConnection: Int
    /// TCP connections opened (whole run, warm-up included).
    public var connectionsOpened: Int
    public var bodyBytes: Int
    public var generator: GeneratorCost
    /// Second by second through the measured window (by scheduled time).
    public var series: [SeriesRow]?

    public struct SeriesRow: Codable, Sendable {
        public var second: Int
        /// What the schedule offered in that second (req/s).
        public var offered: Double
        public var ok: Int
        public var httpErrors: Int
        public var timeouts: Int
        public var socketErrors: Int
        public var p50Ms: Double?
        public var p90Ms: Double?
        public var p99Ms: Double?
        public var maxMs: Double?
    }

    /// The series as CSV (one row per second; empty latency fields where nothing was answered).
    public func seriesCSV() -> String {
        func ms(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "" }
        var out = "second,offered_rps,ok,http_errors,timeouts,socket_errors,p50_ms,p90_ms,p99_ms,max_ms\n"
        for r in series ?? [] {
            out += "\(r.second),\(String(format: "%.1f", r.offered)),\(r.ok),\(r.httpErrors),\(r.timeouts),\(r.socketErrors),"
                + "\(ms(r.p50Ms)),\(ms(r.p90Ms)),\(ms(r.p99Ms)),\(ms(r.maxMs))\n"
        }
        return out
    }

    public init(config: LoadTestConfiguration, startedAt: Date, statistics s: RunStatistics,
                measureStart: UInt64, generator: GeneratorCost) {
        let iso = ISO8601DateFormatter()
        self.startedAt = iso.string(from: startedAt)
        var zipfS: Double?
        if case .zipf(let e) = config.distribution { zipfS = e }
        settings = Settings(
            url: config.url.description, route: config.workload.description,
            ids: config.distribution.name, zipfS: zipfS, zipfPermSeed: zipfS == nil ? nil : config.permutationSeed,
            maxId: config.maxId, rate: config.rate,
            durationS: Double(config.duration) / 1e9, warmupS: Double(config.warmup) / 1e9,
            timeoutS: Double(config.timeout) / 1e9, connections: config.connections,
            maxConnections: config.maxConnections > config.connections ? config.maxConnections : nil,
            rampTo: config.rampTo, requestsPerConnection: config.requestsPerConnection, threads: config.threads,
            headers: config.headers, allow404: config.allow404, seed: config.seed, listCount: config.listCount)
        offeredRps = config.rate
        let schedule = config.schedule
        let seconds = Int((Double(config.duration) / 1e9).rounded(.up))
        series = (0..<min(seconds, s.series.count)).map { i in
            let b = s.series[i]
            return SeriesRow(second: i, offered: schedule.rate(at: config.warmup + UInt64(i) * 1_000_000_000 + 500_000_000),
                             ok: b.ok, httpErrors: b.httpErrors, timeouts: b.timeouts, socketErrors: b.socketErrors,
                             p50Ms: b.latencyMs(quantile: 0.5), p90Ms: b.latencyMs(quantile: 0.9),
                             p99Ms: b.latencyMs(quantile: 0.99), maxMs: b.latencyMs(quantile: 1))
        }
        scheduled = s.scheduled
        answered = s.answered
        lateAnswers = s.lateAnswers
        ok = s.ok
        let duration = Double(config.duration) / 1e9
        let tail = s.lastCompletion > measureStart ? Double(s.lastCompletion - measureStart) / 1e9 : 0
        windowS = (Swift.max(duration, tail) * 1000).rounded() / 1000
        achievedRps = windowS > 0 ? (Double(s.answered + s.lateAnswers) / windowS * 10).rounded() / 10 : 0
        okRps = windowS > 0 ? (Double(s.ok) / windowS * 10).rounded() / 10 : 0
        latencyUs = Latency(s.latency)
        refusedLatencyUs = s.refusedLatency.totalCount > 0 ? Latency(s.refusedLatency) : nil
        refusedServiceLatencyUs = s.refusedServiceLatency.totalCount > 0 ? Latency(s.refusedServiceLatency) : nil
        refusedWireLatencyUs = s.refusedWireLatency.totalCount > 0 ? Latency(s.refusedWireLatency) : nil
        errors = Errors(total: s.errors, rate: s.scheduled > 0 ? Double(s.errors) / Double(s.scheduled) : 0,
                        http: s.httpErrors, timeouts: s.timeouts, socket: s.socketErrors,
                        connectFailures: s.connectErrors, retries: s.retries)
        var statuses: [String: Int] = [:]
        for (code, count) in s.statusCounts.enumerated() where count > 0 { statuses[String(code)] = count }
        statusCounts = statuses
        let withHeader = s.answered - s.cacheCounts[CacheStatus.absent.rawValue]
        if withHeader > 0 {
            var counts: [String: Int] = [:]
            for status in CacheStatus.allCases where s.cacheCounts[status.rawValue] > 0 {
                counts[status.description] = s.cacheCounts[status.rawValue]
            }
            cache = Cache(counts: counts, hitRatio: Double(s.cacheCounts[CacheStatus.hit.rawValue]) / Double(withHeader))
        }
        let used = config.workload.routes
        if used.count > 1 {
            var r: [String: RouteResult] = [:]
            for route in used {
                r[route.description] = RouteResult(count: s.routeCounts[route.rawValue],
                                                   latencyUs: Latency(s.routeLatency[route.rawValue]))
            }
            routes = r
        }
        if config.workload == .page {
            page = PageResult(count: s.pages, errors: s.pageErrors, latencyUs: Latency(s.pageLatency))
        }
        sendDelayUs = Latency(s.sendDelay)
        queuedForConnection = s.queuedForConnection
        connectionsOpened = s.connectionsOpened
        bodyBytes = s.bodyBytes
        self.generator = generator
    }

    // MARK: Output

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// The human table.
    public func renderText() -> String {
        var out: [String] = []
        func line(_ label: String, _ text: String) {
            out.append(label.padding(toLength: 14, withPad: " ", startingAt: 0) + text)
        }
        let st = settings
        var ids = "ids \(st.ids) over 1…\(st.maxId)"
        if let z = st.zipfS, let p = st.zipfPermSeed { ids = "ids zipf(s=\(z)) over 1…\(st.maxId), permutation seed \(p)" }
        out.append("products-load  \(st.url)  route \(st.route), \(ids)")
        out.append("offered \(Self.number(offeredRps))\(st.rampTo.map { " → \(Self.number($0))" } ?? "") req/s for \(Self.seconds(st.durationS)) after a \(Self.seconds(st.warmupS)) warm-up; \(st.connections) connections\(st.maxConnections.map { " (growing to \($0))" } ?? ""), \(st.requestsPerConnection.map { "a new connection every \($0) request(s), " } ?? "")\(st.threads) thread(s), timeout \(Self.seconds(st.timeoutS)), seed \(st.seed)")
        if !st.headers.isEmpty { out.append("headers       " + st.headers.joined(separator: " | ")) }
        out.append("")
        line("requests", "\(scheduled) scheduled, \(answered) answered in time, \(ok) ok"
             + (lateAnswers > 0 ? ", \(lateAnswers) answered after their timeout" : ""))
        line("achieved", "\(Self.number(achievedRps)) req/s answered (\(Self.number(okRps)) ok in time) over \(Self.seconds(windowS))")
        line("latency", Self.latencyText(latencyUs) + "   (from the scheduled send time)")
        if let refusedLatencyUs { line("5xx latency", Self.latencyText(refusedLatencyUs)) }
        if let refusedServiceLatencyUs { line("5xx service", Self.latencyText(refusedServiceLatencyUs) + "   (from the first write)") }
        if let refusedWireLatencyUs { line("5xx arrival", Self.latencyText(refusedWireLatencyUs) + "   (first write → the kernel's receive time)") }
        let errorPercent = String(format: "%.3f%%", errors.rate * 100)
        line("errors", "\(errors.total) (\(errorPercent)): http \(errors.http), timeouts \(errors.timeouts), socket \(errors.socket)"
             + (errors.connectFailures > 0 ? "; failed connects \(errors.connectFailures)" : "")
             + (errors.retries > 0 ? "; resent after an idle close \(errors.retries)" : ""))
        line("status", statusCounts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
        if let cache {
            let order = CacheStatus.allCases.map(\.description)
            let counts = cache.counts.sorted { (order.firstIndex(of: $0.key) ?? 99) < (order.firstIndex(of: $1.key) ?? 99) }
            line("cache", String(format: "HIT ratio %.1f%%", cache.hitRatio * 100) + " ("
                 + counts.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
        } else {
            line("cache", "no X-Cache-Status header in the responses")
        }
        if let routes {
            for (name, r) in routes.sorted(by: { $0.key < $1.key }) {
                line("  \(name)", "\(r.count) req  " + Self.latencyText(r.latencyUs))
            }
        }
        if let page {
            line("page", "\(page.count) pages (\(page.errors) with an error)  " + Self.latencyText(page.latencyUs)
                 + "   (slowest of the three)")
        }
        line("send delay", "p50 \(Self.ms(sendDelayUs.p50))  p99 \(Self.ms(sendDelayUs.p99))  max \(Self.ms(sendDelayUs.max))"
             + "; \(queuedForConnection) request(s) waited for a free connection; \(connectionsOpened) connections opened")
        let g = generator
        line("generator", String(format: "CPU %.1f%% of one core (user %.2f s + system %.2f s over %.1f s), %d thread(s)",
                                 g.cpuPercentOfOneCore, g.userSeconds, g.systemSeconds, g.wallSeconds, g.threads)
             + (g.preciseTimer ? "" : "; no epoll_pwait2: sends may be up to 1 ms late"))
        if sendDelayUs.p99 > 1000 && queuedForConnection == 0 {
            out.append("warning: the generator itself sent late (send delay p99 \(Self.ms(sendDelayUs.p99))): the machine is saturated; latencies are an upper bound")
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func latencyText(_ l: Latency) -> String {
        "p50 \(ms(l.p50))  p90 \(ms(l.p90))  p99 \(ms(l.p99))  p99.9 \(ms(l.p999))  max \(ms(l.max))"
    }

    /// Microseconds as milliseconds, 3 significant digits or so.
    static func ms(_ us: UInt64) -> String {
        let v = Double(us) / 1000
        if v < 10 { return String(format: "%.2f ms", v) }
        if v < 100 { return String(format: "%.1f ms", v) }
        return String(format: "%.0f ms", v)
    }

    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(format: "%.1f", v)
    }

    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : String(format: "%.3g s", s)
    }
}

extension IdDistribution {
    /// The --ids name.
    public var name: String {
        switch self {
        case .uniform: "uniform"
        case .last10: "last10"
        case .zipf: "zipf"
        }
    }
}
