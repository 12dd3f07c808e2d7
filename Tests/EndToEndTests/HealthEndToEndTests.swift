import Foundation
import Testing
import TestSupport

/// The health checks through real nginx (the repository's config; the test client is on
/// 127.0.0.1, a trusted address), real workers and a real PostgreSQL that is stopped and
/// started again. The untrusted side (404 from 127.0.0.2) is checked by Deploy/local/nginx-selftest.
@Suite("Health checks end to end")
struct HealthEndToEndTests {
    @Test func liveAndReadyFollowTheProcessAndTheDatabase() throws {
        let cluster = try TestCluster(name: "health")
        let stack = ProductsStack.launch(name: "health", data: .atelierHead, cache: true, cluster: cluster)
        defer { stack.stop() }

        // Ready: the generation is the one the catalog's ETags name.
        let etag = try #require(try HTTP.request(port: stack.port, "GET", "/products/1/styles")[header: "etag"])
        for _ in 0..<2 {  // twice: a cached answer would show X-Cache-Status
            let ready = try HTTP.request(port: stack.port, "GET", "/_health/ready")
            #expect(ready.status == 200)
            #expect(ready[header: "cache-control"] == "no-store" && ready[header: "x-cache-status"] == nil)
            let doc = try #require(try ready.json() as? [String: Any])
            #expect(doc["status"] as? String == "ready")
            let generation = try #require(doc["generation"] as? String)
            #expect(etag == "\"\(generation)-s1\"", "ETag \(etag), ready says \(generation)")
        }
        let live = try HTTP.request(port: stack.port, "GET", "/_health/live")
        #expect(live.status == 200 && live.body == Array(#"{"status":"live"}"#.utf8))
        #expect(live[header: "cache-control"] == "no-store")
        let head = try HTTP.request(port: stack.port, "HEAD", "/_health/ready")
        #expect(head.status == 200 && head.body.isEmpty)
        let nginx = try HTTP.request(port: stack.port, "GET", "/_health/nginx")
        #expect(nginx.status == 200 && String(decoding: nginx.body, as: UTF8.self).hasPrefix("Active connections:"))
        #expect(try HTTP.request(port: stack.port, "GET", "/_health/other").status == 404)

        // The database down: not ready (JSON 503, at once), still live.
        try cluster.stop()
        let start = Date()
        let notReady = try HTTP.request(port: stack.port, "GET", "/_health/ready", timeout: 10)
        #expect(notReady.status == 503 && Date().timeIntervalSince(start) < 5)
        #expect((try? notReady.json() as? [String: Any])?["message"] != nil)
        #expect(notReady[header: "x-cache-status"] == nil)
        // The worker's log line for that failure names the request as nginx does (X-Request-Id).
        let requestID = try #require(notReady[header: "x-request-id"])
        #expect(requestID.count == 32 && requestID.allSatisfy(\.isHexDigit))
        var logged = false
        for _ in 0..<20 where !logged {  // stderr lines arrive through a pipe
            logged = stack.serverLog().split(separator: "\n").contains { $0.contains("request_id=\(requestID)") && $0.contains("503") }
            if !logged { usleep(50_000) }
        }
        #expect(logged, "no worker log line with request_id=\(requestID)")
        #expect(try HTTP.request(port: stack.port, "GET", "/_health/live").status == 200)

        // Back: ready again within a few seconds, by itself.
        try cluster.start()
        var ready = false
        for _ in 0..<50 where !ready {
            ready = (try? HTTP.request(port: stack.port, "GET", "/_health/ready"))?.status == 200
            if !ready { usleep(100_000) }
        }
        #expect(ready, "not ready 5 s after the database came back")
    }
}
