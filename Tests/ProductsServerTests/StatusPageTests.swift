import Testing
@testable import ProductsServer

@Suite struct StatusPageTests {
    func page() -> StatusPage {
        var snapshot = ScoreboardSnapshot()
        snapshot.startedAt = 1_764_662_400  // 2025-12-02T08:00:00Z
        snapshot.configuredWorkers = 3
        snapshot.workersStarted = 4
        snapshot.workerRestarts = 1
        snapshot.workers = [
            .init(pid: 11, busy: true, startedAt: 1_764_662_400, requests: 7, generation: "g2"),
            .init(pid: 12, busy: false, startedAt: 1_764_662_460, requests: 3, generation: "g2"),
            .init(pid: 13, busy: false, startedAt: 1_764_662_460, requests: 0, generation: "g1"),
        ]
        let styles = MetricRoute.styles.rawValue
        snapshot.requests[styles][MetricStatus.index(of: 200)] = 9
        snapshot.requests[styles][MetricStatus.index(of: 503)] = 1
        snapshot.latency[styles][LatencyBuckets.index(microseconds: 200)] = 8   // ≤ 250 µs
        snapshot.latency[styles][LatencyBuckets.index(microseconds: 4_000)] = 2  // ≤ 5 ms
        snapshot.latencySumMicroseconds[styles] = 9_250
        snapshot.events[WorkerEvent.databaseConnectionsLost.rawValue] = 2
        return StatusPage(snapshot: snapshot, listenQueue: (queued: 5, limit: 4096), now: 1_764_662_500, host: "app1",
                          version: "0.216+g9d9fff3")
    }

    @Test func textForPeople() {
        let text = page().text()
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"), line.first != " " else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingPrefix(while: { $0 == " " }).description
        }
        #expect(fields["host"] == "app1")
        #expect(fields["version"] == "0.216+g9d9fff3")
        #expect(fields["start time"] == "2025-12-02T08:00:00Z")
        #expect(fields["uptime"] == "100 s")
        #expect(fields["workers configured"] == "3")
        #expect(fields["workers alive"] == "3")
        #expect(fields["workers busy"] == "1")
        #expect(fields["worker restarts"] == "1 (exits nobody asked for)")
        #expect(fields["listen queue"] == "5 of 4096")
        #expect(fields["catalog generation"] == "g2 (2 workers), g1 (1 workers)")
        #expect(fields["requests"] == "10")
        #expect(fields["database connections lost"] == "2")
        // Values in one column, after the longest name.
        #expect(text.contains("start time:" + String(repeating: " ", count: 27) + "2025-12-02T08:00:00Z\n"))
        #expect(text.contains("fastcgi incomplete requests dropped:  0\n"))
        let styles = text.split(separator: "\n").first { $0.hasPrefix("styles ") }.map(String.init) ?? ""
        #expect(styles.split(separator: " ") == ["styles", "9", "0", "0", "0", "0", "0", "1", "0", "250", "us", "5", "ms"])
        let worker = text.split(separator: "\n").first { $0.hasPrefix("13 ") }.map(String.init) ?? ""
        #expect(worker.split(separator: " ") == ["13", "idle", "2025-12-02T08:01:00Z", "0", "g1"])
    }

    @Test func openMetricsForPrometheus() {
        let text = page().openMetrics()
        #expect(text.hasSuffix("\n# EOF\n"))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("products_workers{state=\"busy\"} 1"))
        #expect(lines.contains("products_build_info{version=\"0.216+g9d9fff3\"} 1"))
        #expect(lines.contains("products_workers{state=\"idle\"} 2"))
        #expect(lines.contains("products_worker_restarts_total 1"))
        #expect(lines.contains("products_listen_queue 5"))
        #expect(lines.contains("products_catalog_generation_workers{generation=\"g2\"} 2"))
        #expect(lines.contains("products_requests_total{route=\"styles\",status=\"200\"} 9"))
        #expect(lines.contains("products_requests_total{route=\"styles\",status=\"503\"} 1"))
        // Cumulative buckets in seconds, +Inf equal to the count, the sum in seconds.
        #expect(lines.contains("products_request_duration_seconds_bucket{route=\"styles\",le=\"0.0001\"} 0"))
        #expect(lines.contains("products_request_duration_seconds_bucket{route=\"styles\",le=\"0.00025\"} 8"))
        #expect(lines.contains("products_request_duration_seconds_bucket{route=\"styles\",le=\"0.005\"} 10"))
        #expect(lines.contains("products_request_duration_seconds_bucket{route=\"styles\",le=\"+Inf\"} 10"))
        #expect(lines.contains("products_request_duration_seconds_count{route=\"styles\"} 10"))
        #expect(lines.contains("products_request_duration_seconds_sum{route=\"styles\"} 0.00925"))
        #expect(lines.contains("products_database_connections_lost_total 2"))
        // Every sample belongs to a family declared before it, each family declared once.
        var declared: Set<String> = []
        for line in lines where line.hasPrefix("# TYPE ") {
            let name = String(line.split(separator: " ")[2])
            #expect(declared.insert(name).inserted, "\(name) declared twice")
        }
        for line in lines where !line.hasPrefix("#") {
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            let family = ["_total", "_bucket", "_count", "_sum", "_info"].reduce(name) { $0.hasSuffix($1) ? String($0.dropLast($1.count)) : $0 }
            #expect(declared.contains(family) || declared.contains(name), "\(line)")
        }
    }

    @Test func catalogImportTimeFromTheGenerationsName() {
        #expect(StatusPage.importTime(ofGeneration: "20261206_194442_3857_14v8z01") == 1_796_586_282)
        #expect(StatusPage.importTime(ofGeneration: "g2") == nil)
        #expect(StatusPage.importTime(ofGeneration: "2026120x_194442_1_a") == nil)
        #expect(page().catalogImportedAt == nil)   // g1, g2: not the importer's names
        var served = page()
        served.snapshot.workers[0].generation = "20261206_194442_3857_14v8z01"
        served.snapshot.workers[2].generation = "20261201_000000_1_a"
        served.now = 1_796_586_282 + 60
        #expect(served.catalogImportedAt == 1_796_586_282)   // the newest
        #expect(served.openMetrics().split(separator: "\n").contains("products_catalog_imported_timestamp_seconds 1796586282"))
        #expect(served.text().contains("catalog imported:                     2026-12-06T19:44:42Z (60 s ago)\n"))
    }

    @Test func latencyBoundIsTheBucketHoldingTheQuantile() {
        let page = page()
        #expect(page.latencyBound(route: .styles, quantile: 0.5) == .some(250))
        #expect(page.latencyBound(route: .styles, quantile: 0.99) == .some(5_000))
        #expect(page.latencyBound(route: .list, quantile: 0.5) == nil)  // no requests
    }

    @Test func secondsAreExact() {
        #expect(StatusPage.seconds(250) == "0.00025")
        #expect(StatusPage.seconds(1_000_000) == "1.0")
        #expect(StatusPage.seconds(1_500_001) == "1.500001")
        #expect(StatusPage.seconds(0) == "0.0")
    }
}
