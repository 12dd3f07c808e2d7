import Foundation
import Testing
@testable import LoadGenerator

@Suite struct ReportTests {
    @Test func percentilesFromTheHistogram() {
        var h = LatencyHistogram.latency()
        for us in 1...1000 { h.record(UInt64(us)) }   // 1 µs … 1 ms, once each
        let l = LoadReport.Latency(h)
        #expect(l.count == 1000)
        #expect(l.p50 == 500)
        #expect(l.p90 == 900)
        #expect(l.p99 == 990)
        #expect(l.p999 == 999)
        #expect(l.max == 1000)
        #expect(abs(l.mean - 500.5) < 0.6)
        // Three significant digits: 123,456 µs is reported within 0.1%.
        var big = LatencyHistogram.latency()
        big.record(123_456)
        let b = LoadReport.Latency(big)
        #expect(abs(Double(b.p50) - 123_456) / 123_456 < 0.001)
        #expect(LoadReport.Latency(LatencyHistogram.latency()).count == 0)
    }

    @Test func nanosecondsAreRecordedAsRoundedMicroseconds() {
        var h = LatencyHistogram.latency()
        h.recordNanoseconds(1_499)
        h.recordNanoseconds(1_500)
        #expect(h.min == 1 && h.max == 2)
        var huge = LatencyHistogram.latency()
        huge.recordNanoseconds(UInt64.max / 2)   // clamped, not dropped
        #expect(huge.totalCount == 1)
    }

    @Test func outcomesAreCountedAsTheDocSays() {
        var s = RunStatistics()
        s.scheduled = 6
        s.record(route: .styles, due: 0, now: 1_000_000, outcome: .response(status: 200, cache: .hit), allow404: false)
        s.record(route: .styles, due: 0, now: 2_000_000, outcome: .response(status: 200, cache: .miss), allow404: false)
        s.record(route: .styles, due: 0, now: 3_000_000, outcome: .response(status: 404, cache: .absent), allow404: false)
        // A 503 sent 3 ms late, read 1 ms after its write, at the client's socket 0.2 ms after it.
        s.record(route: .product, due: 0, now: 4_000_000, outcome: .response(status: 503, cache: .bypass), allow404: false,
                 sentAt: 3_000_000, onWire: 200_000)
        s.record(route: .product, due: 0, now: 2_000_000_000, outcome: .timeout, allow404: false)
        s.record(route: .product, due: 0, now: 9_000_000, outcome: .socketError, allow404: false)
        #expect(s.answered == 4 && s.ok == 2 && s.httpErrors == 2 && s.timeouts == 1 && s.socketErrors == 1)
        #expect(s.errors == 4)
        #expect(s.latency.totalCount == 5)   // socket errors have no latency; timeouts do
        #expect(s.statusCounts[404] == 1)
        #expect(s.refusedLatency.max >= 3_900 && s.refusedServiceLatency.max <= 1_100)   // µs
        #expect(s.refusedWireLatency.totalCount == 1 && s.refusedWireLatency.max <= 210)

        var allowed = RunStatistics()
        let counted = allowed.record(route: .styles, due: 0, now: 1, outcome: .response(status: 404, cache: .absent), allow404: true)
        #expect(counted)
        #expect(allowed.ok == 1 && allowed.errors == 0)

        let config = LoadTestConfiguration(
            url: try! TargetURL("http://127.0.0.1:8080"), workload: .single(.styles), distribution: .zipf(exponent: 1),
            maxId: 100, rate: 3, duration: 2_000_000_000, warmup: 0, timeout: 2_000_000_000, connections: 4,
            threads: 1, headers: [], allow404: false, seed: 1)
        // The last answer came 2.5 s into a 2 s window: the rate is over 2.5 s.
        s.lastCompletion = 10_000_000_000 + 2_500_000_000
        let report = LoadReport(config: config, startedAt: Date(timeIntervalSince1970: 0), statistics: s,
                                measureStart: 10_000_000_000,
                                generator: .init(threads: 1, userSeconds: 0.1, systemSeconds: 0.3, wallSeconds: 2, preciseTimer: true))
        #expect(report.windowS == 2.5)
        #expect(report.achievedRps == 1.6)
        #expect(report.okRps == 0.8)
        #expect(report.errors.total == 4)
        #expect(abs(report.errors.rate - 4.0 / 6.0) < 1e-9)
        // HIT over the responses that carried the header (HIT, MISS, BYPASS).
        #expect(abs((report.cache?.hitRatio ?? 0) - 1.0 / 3.0) < 1e-9)
        #expect(report.cache?.counts["absent"] == 1)
        #expect(report.statusCounts == ["200": 2, "404": 1, "503": 1])
        #expect(report.generator.cpuPercentOfOneCore == 20)
        #expect(report.routes == nil)
        let text = report.renderText()
        #expect(text.contains("HIT ratio 33.3%"))
        #expect(text.contains("p99.9"))
        // The 503 is also a refusal, with its own latency (4 ms from its due time).
        #expect(report.refusedLatencyUs?.count == 1)
        #expect(text.contains("5xx latency") && text.contains("5xx arrival"))
        // Second by second (all were due in second 0 of the window).
        let row = try! #require(report.series?.first)
        #expect(report.series?.count == 1)
        #expect(row.ok == 2 && row.httpErrors == 2 && row.timeouts == 1 && row.socketErrors == 1 && row.offered == 3)
        #expect(row.p50Ms != nil && row.maxMs! >= 2000)
        let csv = report.seriesCSV().split(separator: "\n")
        #expect(csv.first == "second,offered_rps,ok,http_errors,timeouts,socket_errors,p50_ms,p90_ms,p99_ms,max_ms")
        #expect(csv.count == 2 && csv[1].hasPrefix("0,3.0,2,2,1,1,"))
    }

    @Test func jsonUsesSnakeCaseKeys() throws {
        var s = RunStatistics()
        s.scheduled = 1
        s.record(route: .product, due: 0, now: 1_000, outcome: .response(status: 200, cache: .absent), allow404: false)
        let config = LoadTestConfiguration(
            url: try TargetURL("http://127.0.0.1:8080"), workload: .page, distribution: .uniform,
            maxId: 100, rate: 300, duration: 1_000_000_000, warmup: 0, timeout: 2_000_000_000, connections: 4,
            threads: 1, headers: ["X-Cache-Bypass: 1"], allow404: false, seed: 1)
        let report = LoadReport(config: config, startedAt: Date(), statistics: s, measureStart: 0,
                                generator: .init(threads: 1, userSeconds: 0, systemSeconds: 0, wallSeconds: 1, preciseTimer: true))
        let json = String(decoding: try report.jsonData(), as: UTF8.self)
        for key in ["\"achieved_rps\"", "\"latency_us\"", "\"p999\"", "\"status_counts\"", "\"send_delay_us\"",
                    "\"cpu_percent_of_one_core\"", "\"page\"", "\"routes\"", "\"allow404\""] {
            #expect(json.contains(key), "\(key)")
        }
        #expect(report.cache == nil)   // no X-Cache-Status seen: no ratio at all, not 0%
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let decoded = try decoder.decode(LoadReport.self, from: try report.jsonData())
        #expect(decoded.scheduled == 1)
        #expect(decoded.settings.headers == ["X-Cache-Bypass: 1"])
    }
}
