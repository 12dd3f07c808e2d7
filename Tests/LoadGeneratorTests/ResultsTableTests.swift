import Foundation
import Testing
@testable import LoadGenerator

@Suite struct ResultsTableTests {
    @Test func fileNamesNameRowAndColumn() {
        let (key, point) = ResultsTable.parse(fileName: "styles.zipf.on.r10000.json")!
        #expect(key == ResultsTable.RowKey(route: "styles", ids: "zipf", cache: "on"))
        #expect(point == .rate(10_000))
        #expect(ResultsTable.parse(fileName: "page.uniform.off.max.json")?.1 == .max)
        #expect(ResultsTable.parse(fileName: "styles.zipf.maybe.max.json") == nil)
        #expect(ResultsTable.parse(fileName: "environment.txt") == nil)
        #expect(ResultsTable.parse(fileName: "results.json") == nil)
        #expect(ResultsTable.Point.rate(1) < .rate(100))
        #expect(ResultsTable.Point.rate(1e6) < .max)
    }

    @Test func tableFromBothTools() throws {
        let wrk = """
            {"tool": "wrk", "rps": 12345.6, "ok_rps": 12345.6, "latency_us": {"p50": 900, "p90": 1500, "p99": 4000,
             "p999": 9000, "max": 12000, "mean": 1000}, "errors": {"total": 0, "rate": 0, "non2xx": 0}}
            """
        let wrkCached = """
            {"tool": "wrk", "rps": 60000, "latency_us": {"p50": 300, "p99": 2000, "max": 5000},
             "errors": {"total": 3, "rate": 0.00005}, "cache": {"hit_ratio": 0.876}, "status_counts": {"200": 59997, "404": 3}}
            """
        var s = RunStatistics()
        s.scheduled = 1000
        for i in 0..<1000 {
            s.record(route: .styles, due: 0, now: UInt64(500_000 + i * 1000),
                     outcome: .response(status: i < 10 ? 503 : 200, cache: .absent), allow404: false)
        }
        s.lastCompletion = 1_000_000_000
        let config = LoadTestConfiguration(
            url: try TargetURL("http://127.0.0.1:8080"), workload: .single(.styles), distribution: .uniform,
            maxId: 100, rate: 1000, duration: 1_000_000_000, warmup: 0, timeout: 2_000_000_000, connections: 4,
            threads: 1, headers: [], allow404: false, seed: 1)
        let report = LoadReport(config: config, startedAt: Date(), statistics: s, measureStart: 0,
                                generator: .init(threads: 1, userSeconds: 0, systemSeconds: 0, wallSeconds: 1, preciseTimer: true))
        var table = ResultsTable()
        table.add(fileName: "styles.uniform.off.max.json", data: Data(wrk.utf8))
        table.add(fileName: "styles.zipf.on.max.json", data: Data(wrkCached.utf8))
        table.add(fileName: "styles.uniform.off.r1000.json", data: try report.jsonData())
        table.add(fileName: "product.uniform.off.r1000.json", data: Data("not json".utf8))
        #expect(table.skipped.count == 1)
        let md = table.markdown()
        let lines = md.split(separator: "\n").map(String.init)
        #expect(lines[0] == "| route | ids | microcache | 1k req/s: p50 / p99, errors, achieved | max (wrk, closed loop): req/s, errors |")
        #expect(lines[2] == "| styles | uniform | bypassed | 1.00 ms / 1.49 ms, 1.00% err, 1000 req/s | 12346 req/s, 0 err |")
        #expect(lines[3] == "| styles | zipf | on | — | 60000 req/s, 3 err (<0.01%), HIT 88% |")
        #expect(md.contains("Errors include 3 answers 404"))
    }

    @Test func columnTitlesFollowTheOriginalTable() {
        #expect(ResultsTable.columnTitle(.rate(1)) == "1 req/s: p50 (max)")
        #expect(ResultsTable.columnTitle(.rate(100)) == "100 req/s: p50, errors")
        #expect(ResultsTable.columnTitle(.rate(5000)) == "5k req/s: p50 / p99, errors, achieved")
        #expect(ResultsTable.rateLabel(2500) == "2.5k")
    }
}
