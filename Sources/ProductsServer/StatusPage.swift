#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The body of `/_status`: a ``ScoreboardSnapshot`` written for a person (plain text, in the
/// spirit of php-fpm's status page) or for Prometheus (OpenMetrics 1.0). Pure: the same
/// reading gives the same bytes.
public struct StatusPage: Sendable {
    public var snapshot: ScoreboardSnapshot
    /// The listening socket's accept queue now, and its limit; nil when the kernel cannot tell.
    public var listenQueue: (queued: UInt32, limit: UInt32)?
    /// Unix seconds, for the uptime.
    public var now: UInt64
    /// The host's name: behind an lb, which app host answered.
    public var host: String
    /// The release running: which package version answered (after an upgrade or a rollback).
    public var version: String

    public init(snapshot: ScoreboardSnapshot, listenQueue: (queued: UInt32, limit: UInt32)?, now: UInt64,
                host: String = StatusPage.hostName(), version: String = StatusPage.releaseVersion()) {
        self.snapshot = snapshot
        self.listenQueue = listenQueue
        self.now = now
        self.host = host
        self.version = version
    }

    /// `PRODUCTS_VERSION` from the environment: the package's products-server.service sets it to
    /// the package's version (Deploy/release); "unknown" elsewhere (a build run by hand).
    public static func releaseVersion() -> String {
        guard let value = getenv("PRODUCTS_VERSION").map({ String(cString: $0) }), !value.isEmpty else { return "unknown" }
        return value
    }

    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static let textContentType = "text/plain; charset=utf-8"
    public static let openMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8"

    /// Live workers serving each catalog generation, most workers first (a worker that has not
    /// answered from the catalog yet counts under none).
    public var generations: [(generation: String, workers: Int)] {
        var counts: [String: Int] = [:]
        for worker in snapshot.workers { if let g = worker.generation { counts[g, default: 0] += 1 } }
        return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key > $1.key }.map { ($0.key, $0.value) }
    }

    public var busyWorkers: Int { snapshot.workers.filter(\.busy).count }

    /// When the newest catalog the workers serve was imported, in unix seconds: a generation's
    /// name begins with its import's UTC time (`YYYYMMDD_HHMMSS_…`, CatalogImport's stamp). nil
    /// before a worker has answered from a catalog, or for names of another form.
    public var catalogImportedAt: UInt64? {
        generations.compactMap { Self.importTime(ofGeneration: $0.generation) }.max()
    }

    static func importTime(ofGeneration name: String) -> UInt64? {
        let d = Array(name.utf8.prefix(15))
        guard d.count == 15, d[8] == UInt8(ascii: "_"),
              d.indices.allSatisfy({ $0 == 8 || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(d[$0]) }) else { return nil }
        func number(_ range: Range<Int>) -> Int32 { d[range].reduce(0) { $0 * 10 + Int32($1 - UInt8(ascii: "0")) } }
        var t = tm()
        t.tm_year = number(0..<4) - 1900; t.tm_mon = number(4..<6) - 1; t.tm_mday = number(6..<8)
        t.tm_hour = number(9..<11); t.tm_min = number(11..<13); t.tm_sec = number(13..<15)
        let seconds = timegm(&t)
        return seconds >= 0 ? UInt64(seconds) : nil
    }

    /// The smallest bucket bound (µs) under which at least `quantile` of `route`'s requests
    /// finished: an upper estimate, as coarse as the buckets; nil without requests, or when the
    /// quantile is above the last bound.
    public func latencyBound(route: MetricRoute, quantile: Double) -> UInt64?? {
        let buckets = snapshot.latency[route.rawValue]
        let total = buckets.reduce(0, +)
        guard total > 0 else { return nil }
        let wanted = UInt64((Double(total) * quantile).rounded(.up))
        var cumulative: UInt64 = 0
        for (index, count) in buckets.enumerated() {
            cumulative += count
            if cumulative >= wanted { return .some(index < LatencyBuckets.upperBounds.count ? LatencyBuckets.upperBounds[index] : nil) }
        }
        return .some(nil)
    }

    // MARK: - Text

    public func text() -> String {
        var out = "products-server status\n\n"
        func line(_ name: String, _ value: String) {
            out += name + ":" + String(repeating: " ", count: max(1, 37 - name.count)) + value + "\n"
        }
        line("host", host)
        line("version", version)
        line("start time", Self.isoTime(snapshot.startedAt))
        line("uptime", "\(now >= snapshot.startedAt ? now - snapshot.startedAt : 0) s")
        line("workers configured", "\(snapshot.configuredWorkers)")
        line("workers alive", "\(snapshot.workers.count)")
        line("workers busy", "\(busyWorkers)")
        line("workers started", "\(snapshot.workersStarted)")
        line("worker restarts", "\(snapshot.workerRestarts) (exits nobody asked for)")
        line("reloads", "\(snapshot.reloads)")
        if let listenQueue {
            line("listen queue", "\(listenQueue.queued) of \(listenQueue.limit)")
        } else {
            line("listen queue", "unknown")
        }
        let generations = self.generations
        if generations.isEmpty {
            line("catalog generation", "none served yet")
        } else {
            line("catalog generation", generations.map { "\($0.generation) (\($0.workers) workers)" }.joined(separator: ", "))
        }
        if let imported = catalogImportedAt {
            line("catalog imported", "\(Self.isoTime(imported)) (\(now >= imported ? now - imported : 0) s ago)")
        }
        let total = snapshot.requests.joined().reduce(0, +)
        line("requests", "\(total)")
        for event in WorkerEvent.allCases {
            line(String(event.label.map { $0 == "_" ? " " : $0 }), "\(snapshot.events[event.rawValue])")
        }

        out += "\nrequests by route and status, and duration (upper bounds of the histogram's buckets)\n"
        var header = Self.pad("route", 9)
        for index in 0..<MetricStatus.count { header += Self.pad(MetricStatus.label(index), 10, right: true) }
        header += Self.pad("p50", 10, right: true) + Self.pad("p99", 10, right: true)
        out += header + "\n"
        for route in MetricRoute.allCases {
            var row = Self.pad(route.label, 9)
            for count in snapshot.requests[route.rawValue] { row += Self.pad("\(count)", 10, right: true) }
            row += Self.pad(Self.bound(latencyBound(route: route, quantile: 0.5)), 10, right: true)
            row += Self.pad(Self.bound(latencyBound(route: route, quantile: 0.99)), 10, right: true)
            out += row + "\n"
        }

        out += "\nworkers\n"
        out += Self.pad("pid", 9) + Self.pad("state", 7) + Self.pad("started", 22) + Self.pad("requests", 12, right: true) + "  generation\n"
        for worker in snapshot.workers {
            out += Self.pad("\(worker.pid)", 9) + Self.pad(worker.busy ? "busy" : "idle", 7) + Self.pad(Self.isoTime(worker.startedAt), 22)
                + Self.pad("\(worker.requests)", 12, right: true) + "  " + (worker.generation ?? "-") + "\n"
        }
        return out
    }

    private static func bound(_ value: UInt64??) -> String {
        switch value {
        case .none: "-"
        case .some(.none): "> 1 s"
        case .some(.some(let microseconds)):
            microseconds < 1000 ? "\(microseconds) us" : microseconds % 1000 == 0 ? "\(microseconds / 1000) ms" : "\(Double(microseconds) / 1000) ms"
        }
    }

    private static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(1, width - text.count))
        return right ? fill + text : text + fill
    }

    static func isoTime(_ seconds: UInt64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - OpenMetrics

    /// OpenMetrics 1.0 text: every family with `# TYPE` and `# HELP`, counters as `_total`,
    /// the duration histogram with cumulative `le` buckets in seconds, `# EOF` at the end.
    public func openMetrics() -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, unit: String? = nil) {
            out += "# TYPE \(name) \(type)\n"
            if let unit { out += "# UNIT \(name) \(unit)\n" }
            out += "# HELP \(name) \(help)\n"
        }
        family("products_build", "info", "The release running (the package's version).")
        out += "products_build_info{version=\"\(Self.escape(version))\"} 1\n"
        family("products_start_time_seconds", "gauge", "When the master started (unix time).", unit: "seconds")
        out += "products_start_time_seconds \(snapshot.startedAt)\n"
        family("products_workers_configured", "gauge", "Worker processes the master keeps running.")
        out += "products_workers_configured \(snapshot.configuredWorkers)\n"
        family("products_workers", "gauge", "Live worker processes by state.")
        out += "products_workers{state=\"idle\"} \(snapshot.workers.count - busyWorkers)\n"
        out += "products_workers{state=\"busy\"} \(busyWorkers)\n"
        family("products_worker_starts", "counter", "Worker processes started.")
        out += "products_worker_starts_total \(snapshot.workersStarted)\n"
        family("products_worker_restarts", "counter", "Workers that exited without being asked to (each is respawned).")
        out += "products_worker_restarts_total \(snapshot.workerRestarts)\n"
        family("products_reloads", "counter", "Graceful reloads (SIGHUP).")
        out += "products_reloads_total \(snapshot.reloads)\n"
        if let listenQueue {
            family("products_listen_queue", "gauge", "Connections waiting in the listening socket's accept queue.")
            out += "products_listen_queue \(listenQueue.queued)\n"
            family("products_listen_queue_limit", "gauge", "The accept queue's limit (the backlog).")
            out += "products_listen_queue_limit \(listenQueue.limit)\n"
        }
        family("products_catalog_generation_workers", "gauge", "Live workers whose last catalog answer came from this generation.")
        for (generation, workers) in generations {
            out += "products_catalog_generation_workers{generation=\"\(Self.escape(generation))\"} \(workers)\n"
        }
        if let imported = catalogImportedAt {
            family("products_catalog_imported_timestamp_seconds", "gauge",
                   "When the newest catalog the workers serve was imported (unix time, from its generation's name).", unit: "seconds")
            out += "products_catalog_imported_timestamp_seconds \(imported)\n"
        }
        family("products_requests", "counter", "Requests answered by the workers, by route and status.")
        for route in MetricRoute.allCases {
            for (index, count) in snapshot.requests[route.rawValue].enumerated() {
                out += "products_requests_total{route=\"\(route.label)\",status=\"\(MetricStatus.label(index))\"} \(count)\n"
            }
        }
        family("products_request_duration_seconds", "histogram",
               "From the worker taking the request to the end of writing its response.", unit: "seconds")
        for route in MetricRoute.allCases {
            var cumulative: UInt64 = 0
            for (index, count) in snapshot.latency[route.rawValue].enumerated() {
                cumulative += count
                let le = index < LatencyBuckets.upperBounds.count ? Self.seconds(LatencyBuckets.upperBounds[index]) : "+Inf"
                out += "products_request_duration_seconds_bucket{route=\"\(route.label)\",le=\"\(le)\"} \(cumulative)\n"
            }
            out += "products_request_duration_seconds_count{route=\"\(route.label)\"} \(cumulative)\n"
            out += "products_request_duration_seconds_sum{route=\"\(route.label)\"} \(Self.seconds(snapshot.latencySumMicroseconds[route.rawValue]))\n"
        }
        for event in WorkerEvent.allCases {
            family("products_\(event.label)", "counter", event.help)
            out += "products_\(event.label)_total \(snapshot.events[event.rawValue])\n"
        }
        out += "# EOF\n"
        return out
    }

    /// Microseconds as seconds, exactly (`250` → `0.00025`), without exponent notation.
    static func seconds(_ microseconds: UInt64) -> String {
        let whole = microseconds / 1_000_000
        var fraction = String(microseconds % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(whole).0" : "\(whole).\(fraction)"
    }

    private static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}

extension WorkerEvent {
    var help: String {
        switch self {
        case .databaseConnects: "Database connections made by the workers."
        case .databaseConnectFailures: "Database connection attempts that failed (the request got 503)."
        case .databaseConnectionsLost: "Database connections found broken during a query (restart, failover)."
        case .recoveryConflicts: "Queries a hot standby cancelled to replay the primary's changes (retried)."
        case .connectionsAccepted: "FastCGI connections accepted from nginx."
        case .connectionsEvicted: "Idle kept FastCGI connections closed to make room for a new one."
        case .incompleteRequestsDropped: "FastCGI connections closed because their request stayed incomplete for 1 s."
        case .shedQueueTime: "Requests answered 503 at once because they had waited longer than --max-queue-time (overload)."
        case .cacheGenerationOther: "Catalog answers of another generation than the one in nginx's cache key (kept 40-60 s, not until the next import)."
        }
    }
}
