import Foundation
import Testing
import TestSupport

/// `/_status` through real nginx, real workers (the counters in the master's shared mapping)
/// and a real PostgreSQL: counts follow the requests, survive a killed worker, and the page
/// shows the restart and the catalog generation.
@Suite("Status page end to end")
struct StatusEndToEndTests {
    /// `name{labels} value` samples of an OpenMetrics page.
    func samples(_ stack: ProductsStack) throws -> [String: Double] {
        let page = try HTTP.request(port: stack.port, "GET", "/_status?openmetrics")
        #expect(page.status == 200)
        #expect(page[header: "content-type"]?.hasPrefix("application/openmetrics-text") == true)
        #expect(page[header: "cache-control"] == "no-store" && page[header: "x-cache-status"] == nil)
        let text = String(decoding: page.body, as: UTF8.self)
        #expect(text.hasSuffix("# EOF\n"))
        var result: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            result[String(line[..<space])] = value
        }
        return result
    }

    @Test func countsFollowRequestsAndSurviveAKilledWorker() throws {
        let cluster = TestCluster.shared
        let stack = ProductsStack.launch(name: "status", data: .atelierHead, cache: false, workers: 2, cluster: cluster)
        defer { stack.stop() }

        let before = try samples(stack)
        #expect(before["products_workers_configured"] == 2)
        for _ in 0..<5 { #expect(try HTTP.request(port: stack.port, "GET", "/products/1/styles").status == 200) }
        #expect(try HTTP.request(port: stack.port, "GET", "/products/999999999").status == 404)
        #expect(try HTTP.request(port: stack.port, "GET", "/products/x").status == 400)
        let etag = try #require(try HTTP.request(port: stack.port, "GET", "/products/1")[header: "etag"])

        // A worker counts a request and turns idle just after nginx has its answer: the page
        // may be read a moment before the last one has. Read until only the page's own worker
        // is busy (it then includes every earlier request's count); a stuck flag still fails.
        var after = try samples(stack)
        for _ in 0..<20 where after[#"products_workers{state="busy"}"#] != 1 {
            usleep(50_000)
            after = try samples(stack)
        }
        func delta(_ key: String) -> Double { (after[key] ?? 0) - (before[key] ?? 0) }
        #expect(delta(#"products_requests_total{route="styles",status="200"}"#) == 5)
        #expect(delta(#"products_requests_total{route="product",status="404"}"#) == 1)
        #expect(delta(#"products_requests_total{route="unrouted",status="400"}"#) == 1)
        #expect(delta(#"products_request_duration_seconds_count{route="styles"}"#) == 5)
        #expect(after[#"products_request_duration_seconds_bucket{route="styles",le="+Inf"}"#]
                == after[#"products_request_duration_seconds_count{route="styles"}"#])
        #expect((after[#"products_workers{state="idle"}"#] ?? 0) + (after[#"products_workers{state="busy"}"#] ?? 0) == 2)
        #expect(after[#"products_workers{state="busy"}"#] == 1)  // the one answering this page
        #expect((after["products_database_connects_total"] ?? 0) >= 1)
        #expect(after["products_listen_queue"] == 0 && (after["products_listen_queue_limit"] ?? 0) > 0)
        // The generation the ETag names, served by at least one worker.
        let generation = String(etag.dropFirst().prefix { $0 != "-" } )
        let servedBy = after.first { $0.key.hasPrefix("products_catalog_generation_workers{") }
        #expect(servedBy?.key.contains(#"generation="\#(generation)"#) == true, "\(String(describing: servedBy)) vs \(etag)")

        // A worker killed: respawned, counted as a restart, and the pool's totals keep its requests.
        let victim = try #require(try stack.workerPIDs().first)
        kill(victim, SIGKILL)
        var restarted: [String: Double] = [:]
        for _ in 0..<50 {
            usleep(100_000)
            restarted = try samples(stack)
            if restarted["products_worker_restarts_total"] == 1, try stack.workerPIDs().count == 2 { break }
        }
        #expect(restarted["products_worker_restarts_total"] == 1)
        #expect(restarted["products_worker_starts_total"] == 3)
        for (key, value) in after where key.hasPrefix("products_requests_total") {
            #expect((restarted[key] ?? 0) >= value, "\(key) went backwards")
        }

        // The text page for people, and HEAD agreeing with GET. (The killed worker may have been
        // the only one that had served from the catalog: one more catalog answer first.)
        #expect(try HTTP.request(port: stack.port, "GET", "/products/1").status == 200)
        let text = try HTTP.request(port: stack.port, "GET", "/_status")
        #expect(text.status == 200 && text[header: "content-type"] == "text/plain; charset=utf-8")
        let body = String(decoding: text.body, as: UTF8.self)
        #expect(body.contains("worker restarts:") && body.contains("listen queue:") && body.contains(generation))
        let head = try HTTP.request(port: stack.port, "HEAD", "/_status")
        #expect(head.status == 200 && head.body.isEmpty)
    }

    @Test func offWithNoStatus() throws {
        let cluster = TestCluster.shared
        let stack = ProductsStack.launch(name: "status-off", data: .atelierHead, cache: false, workers: 1,
                                         serverArguments: ["--no-status"], cluster: cluster)
        defer { stack.stop() }
        #expect(try HTTP.request(port: stack.port, "GET", "/products/1").status == 200)
        #expect(try HTTP.request(port: stack.port, "GET", "/_status").status == 404)
    }
}
