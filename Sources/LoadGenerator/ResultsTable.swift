import Foundation

/// The summary table of a load-test run (Deploy/bench/load-test): one row per
/// route × id distribution × microcache setting, one column per offered rate, and the closed-loop
/// maximum — the layout of the original project's results table.
///
/// Input: a directory of JSON results named `<route>.<ids>.<cache>.<point>.json`, where cache is
/// `on` or `off` and point is `r<rate>` (products-load --json) or `max` (catalog.lua json=).
public struct ResultsTable {
    public enum Point: Hashable, Comparable, Sendable {
        case rate(Double)
        case max

        public static func < (a: Point, b: Point) -> Bool {
            switch (a, b) {
            case (.rate(let x), .rate(let y)): x < y
            case (.rate, .max): true
            default: false
            }
        }
    }

    public struct RowKey: Hashable, Comparable, Sendable {
        public var route: String
        public var ids: String
        public var cache: String

        static let routeOrder = ["product", "styles", "related", "list", "page", "mix"]
        static let idsOrder = ["uniform", "last10", "zipf"]

        public static func < (a: RowKey, b: RowKey) -> Bool {
            func rank(_ list: [String], _ v: String) -> Int { list.firstIndex(of: v) ?? list.count }
            let ka = (rank(routeOrder, a.route), rank(idsOrder, a.ids), a.cache == "on" ? 1 : 0)
            let kb = (rank(routeOrder, b.route), rank(idsOrder, b.ids), b.cache == "on" ? 1 : 0)
            if ka != kb { return ka < kb }
            return (a.route, a.ids, a.cache) < (b.route, b.ids, b.cache)
        }
    }

    /// What a cell shows, from either tool's JSON.
    public struct Measurement: Sendable, Equatable {
        public var p50Us: UInt64
        public var p99Us: UInt64
        public var maxUs: UInt64
        public var errors: Int
        public var errorRate: Double
        public var rps: Double
        public var hitRatio: Double?
        public var notFound: Int
    }

    public private(set) var cells: [RowKey: [Point: Measurement]] = [:]
    /// Files that could not be read, with why.
    public private(set) var skipped: [String] = []

    public init() {}

    /// `styles.zipf.on.r1000.json` → (row, point); nil for other names.
    public static func parse(fileName: String) -> (RowKey, Point)? {
        guard fileName.hasSuffix(".json") else { return nil }
        let parts = fileName.dropLast(5).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[2] == "on" || parts[2] == "off" else { return nil }
        let key = RowKey(route: String(parts[0]), ids: String(parts[1]), cache: String(parts[2]))
        if parts[3] == "max" { return (key, .max) }
        guard parts[3].hasPrefix("r"), let rate = Double(parts[3].dropFirst()), rate > 0 else { return nil }
        return (key, .rate(rate))
    }

    public mutating func add(fileName: String, data: Data) {
        guard let (key, point) = Self.parse(fileName: fileName) else { return }
        do {
            cells[key, default: [:]][point] = try Self.measurement(from: data)
        } catch {
            skipped.append("\(fileName): \(error)")
        }
    }

    /// Reads every result file of a directory.
    public static func load(directory: String) throws -> ResultsTable {
        var table = ResultsTable()
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        for name in names where parse(fileName: name) != nil {
            let data = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name))
            table.add(fileName: name, data: data)
        }
        return table
    }

    struct WrkResult: Decodable {
        struct Latency: Decodable { var p50: Double; var p99: Double; var max: Double }
        struct Errors: Decodable { var total: Int; var rate: Double }
        struct Cache: Decodable { var hitRatio: Double? }
        var tool: String
        var rps: Double
        var latencyUs: Latency
        var errors: Errors
        var cache: Cache?
        var statusCounts: [String: Int]?
        var allow404: Bool?
    }

    static func measurement(from data: Data) throws -> Measurement {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        if let wrk = try? decoder.decode(WrkResult.self, from: data), wrk.tool == "wrk" {
            return Measurement(p50Us: UInt64(wrk.latencyUs.p50), p99Us: UInt64(wrk.latencyUs.p99),
                               maxUs: UInt64(wrk.latencyUs.max), errors: wrk.errors.total,
                               errorRate: wrk.errors.rate, rps: wrk.rps, hitRatio: wrk.cache?.hitRatio,
                               notFound: wrk.allow404 == true ? 0 : (wrk.statusCounts?["404"] ?? 0))
        }
        let r = try decoder.decode(LoadReport.self, from: data)
        return Measurement(p50Us: r.latencyUs.p50, p99Us: r.latencyUs.p99, maxUs: r.latencyUs.max,
                           errors: r.errors.total, errorRate: r.errors.rate, rps: r.achievedRps,
                           hitRatio: r.cache?.hitRatio,
                           notFound: r.settings.allow404 ? 0 : (r.statusCounts["404"] ?? 0))
    }

    // MARK: Markdown

    public func markdown() -> String {
        let points = Set(cells.values.flatMap(\.keys)).sorted()
        var header = ["route", "ids", "microcache"]
        for p in points { header.append(Self.columnTitle(p)) }
        var lines = ["| " + header.joined(separator: " | ") + " |",
                     "|" + header.map { _ in "---" }.joined(separator: "|") + "|"]
        var notFound = 0
        for key in cells.keys.sorted() {
            var row = [key.route, key.ids, key.cache == "on" ? "on" : "bypassed"]
            for p in points {
                if let m = cells[key]?[p] {
                    row.append(Self.cell(m, at: p, showHitRatio: key.cache == "on"))
                    notFound += m.notFound
                } else {
                    row.append("—")
                }
            }
            lines.append("| " + row.joined(separator: " | ") + " |")
        }
        if notFound > 0 {
            lines.append("")
            lines.append("Errors include \(notFound) answers 404 (ids missing from the imported data count as errors unless --allow-404).")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func columnTitle(_ p: Point) -> String {
        switch p {
        case .max: return "max (wrk, closed loop): req/s, errors"
        case .rate(let r):
            let label = rateLabel(r) + " req/s"
            if r <= 1 { return label + ": p50 (max)" }
            if r < 1000 { return label + ": p50, errors" }
            return label + ": p50 / p99, errors, achieved"
        }
    }

    static func rateLabel(_ r: Double) -> String {
        if r >= 1000 {
            let k = r / 1000
            return k == k.rounded() ? "\(Int(k))k" : String(format: "%.1fk", k)
        }
        return r == r.rounded() ? "\(Int(r))" : String(format: "%g", r)
    }

    /// The HIT ratio only where the microcache is on (bypassed answers all say BYPASS).
    static func cell(_ m: Measurement, at p: Point, showHitRatio: Bool = true) -> String {
        var text: String
        switch p {
        case .max:
            text = "\(Int(m.rps.rounded())) req/s, \(errorText(m))"
        case .rate(let r):
            if r <= 1 {
                text = "\(LoadReport.ms(m.p50Us)) (max \(LoadReport.ms(m.maxUs)))"
                if m.errors > 0 { text += ", \(errorText(m))" }
            } else if r < 1000 {
                text = "\(LoadReport.ms(m.p50Us)), \(errorText(m))"
            } else {
                text = "\(LoadReport.ms(m.p50Us)) / \(LoadReport.ms(m.p99Us)), \(errorText(m)), \(Int(m.rps.rounded())) req/s"
            }
        }
        if showHitRatio, let hit = m.hitRatio { text += String(format: ", HIT %.0f%%", hit * 100) }
        return text
    }

    static func errorText(_ m: Measurement) -> String {
        if m.errors == 0 { return "0 err" }
        let pct = m.errorRate * 100
        return pct < 0.01 ? "\(m.errors) err (<0.01%)" : String(format: "%.2f%% err", pct)
    }

    // MARK: Combined JSON

    /// Every result of the directory in one document: {"points": [{"file", "route", "ids",
    /// "cache", "point", "result"}]}.
    public static func combinedJSON(directory: String) throws -> Data {
        var points: [[String: Any]] = []
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        for name in names {
            guard let (key, point) = parse(fileName: name) else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name))
            guard let result = try? JSONSerialization.jsonObject(with: data) else { continue }
            let pointText: String
            switch point {
            case .max: pointText = "max"
            case .rate(let r): pointText = "rate:" + rateLabel(r)
            }
            points.append(["file": name, "route": key.route, "ids": key.ids, "cache": key.cache,
                           "point": pointText, "result": result])
        }
        return try JSONSerialization.data(withJSONObject: ["points": points], options: [.prettyPrinted, .sortedKeys])
    }
}
