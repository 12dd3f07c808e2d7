import ArgumentParser
import Foundation
import LoadGenerator

@main
struct ProductsLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "products-load",
        abstract: "Open-loop HTTP/1.1 load generator for the Products API.",
        discussion: """
            `products-load [run] --rate R …` runs one open-loop load test (run is the default; \
            `products-load run --help` lists its options). `products-load table DIR` turns a \
            directory of results from Deploy/bench/load-test into the markdown summary table.
            """,
        subcommands: [Run.self, Table.self],
        defaultSubcommand: Run.self)
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "One open-loop load test at a fixed offered rate.",
        discussion: """
            Requests leave on a fixed schedule, whatever the server does: request i is due at \
            start + i/rate. Latency is measured from that scheduled time, so a server that stalls \
            is charged for every request it delays (no coordinated omission). When every \
            connection is busy at a request's due time, the request waits for one and the wait \
            counts in its latency. Keep-alive connections, one epoll event loop per --threads.

            Errors: non-2xx answers (404 too, unless --allow-404), socket errors, and requests not \
            answered within --timeout of their scheduled time (counted in the latency at the time \
            they were abandoned). Output: achieved rate, p50/p90/p99/p99.9/max (HdrHistogram, µs), \
            errors, per-status counts, the X-Cache-Status HIT ratio, the generator's own CPU; a \
            table on stdout and the same as JSON with --json. docs/load-testing.md explains \
            every number.

            Routes: product (/products/:id), styles, related, list (/products?page=P&count=5, \
            pages drawn like ids over 1…⌈max-id/5⌉), page (product + styles + related for one \
            id, sent together; --rate counts requests, so pages/s = rate/3), mix (one request \
            per slot, route drawn by --mix weights).
            Ids: uniform over 1…max-id; last10 = uniform over the last 10%; zipf = Zipf(s) ranks \
            mapped to ids by a fixed seeded permutation (--zipf-perm-seed, 0 = rank is the id).
            """)

    @Option(help: "Base URL (http only): requests go to <url>/products/…")
    var url = "http://127.0.0.1:8080"

    @Option(help: "Offered load in requests per second (the schedule; not a target to approach).")
    var rate: Double

    @Option(help: "Measured time (e.g. 30s, 500ms, 2m).")
    var duration: DurationOption = DurationOption(nanoseconds: 30_000_000_000)

    @Option(help: "Time before the measured window at the same rate; sent, not recorded.")
    var warmup: DurationOption = DurationOption(nanoseconds: 5_000_000_000)

    @Option(help: "Keep-alive connections (the most requests in flight at once, unless --max-connections lets the pool grow).")
    var connections = 64

    @Option(name: .customLong("max-connections"), help: ArgumentHelp(
        "Let the pool grow to this many connections: a request due while every connection is busy opens a new one instead of waiting (default: --connections, a fixed pool).",
        discussion: "Shoppers arrive on their own connections: a fixed pool makes requests queue inside the generator once the server is slower than the offered rate, and past capacity every request then times out there, whatever the server does. A growing pool puts that queue at the server, where overload protection can see it (issue 22)."))
    var maxConnections: Int?

    @Option(name: .customLong("ramp-to"), help: ArgumentHelp(
        "Ramp the offered rate linearly from --rate to this over the measured window (loader.io's 'from A to B'); the warm-up runs at --rate.",
        valueName: "rate"))
    var rampTo: Double?

    @Option(name: .customLong("requests-per-connection"), help: ArgumentHelp(
        "Close each connection after this many answers and open a new one: loader.io's 'clients per second', each client connecting, sending its requests and leaving (with --rate = clients per second x N).",
        valueName: "n"))
    var requestsPerConnection: Int?

    @Option(help: ArgumentHelp(
        "Write the measured window second by second as CSV: offered rate, ok, errors, latency percentiles (Deploy/bench/chart draws it).",
        valueName: "file"))
    var series: String?

    @Option(help: "Event-loop threads (each owns connections/threads connections and every threads-th slot).")
    var threads = 1

    @Option(help: "product | styles | related | list | page | mix")
    var route = "styles"

    @Option(help: "Weights for --route mix, e.g. product=3,styles=3,related=3,list=1 (the default).")
    var mix: String?

    @Option(help: "Id distribution: uniform | last10 | zipf")
    var ids = "uniform"

    @Option(name: .customLong("zipf-s"), help: "Zipf exponent s (P(rank k) ∝ k^-s).")
    var zipfS = 1.0

    @Option(name: .customLong("zipf-perm-seed"), help: "Seed of the Zipf rank → id permutation (0 = identity).")
    var zipfPermSeed: UInt32 = RankPermutation.defaultSeed

    @Option(name: .customLong("max-id"), help: "Ids are drawn from 1…max-id.")
    var maxId = 1_000_011

    @Option(name: .customLong("list-count"), help: "count= for the list route.")
    var listCount = 5

    @Option(name: .customLong("header"), help: "Extra request header, 'Name: value' (repeatable), e.g. 'X-Cache-Bypass: 1'.")
    var headers: [String] = []

    @Option(help: "A request not answered this long after its scheduled time is a timeout error.")
    var timeout: DurationOption = DurationOption(nanoseconds: 2_000_000_000)

    @Flag(name: .customLong("allow-404"), help: "Count 404 answers as successes (ids missing from the data).")
    var allow404 = false

    @Option(help: "Seed for the ids (the same seed and options send the same requests).")
    var seed: UInt64 = 1

    @Option(help: "Also write the results as JSON to this file.")
    var json: String?

    @Flag(help: "No progress lines on stderr.")
    var quiet = false

    func validate() throws {
        guard rate > 0, rate.isFinite, rate <= 1_000_000 else { throw ValidationError("--rate must be in (0, 1000000]") }
        guard duration.nanoseconds > 0 else { throw ValidationError("--duration must be > 0") }
        guard timeout.nanoseconds > 0 else { throw ValidationError("--timeout must be > 0") }
        guard connections >= 1, connections <= 10_000 else { throw ValidationError("--connections must be in 1…10000") }
        if let rampTo, !(rampTo > 0 && rampTo.isFinite) { throw ValidationError("--ramp-to must be a rate > 0") }
        if let requestsPerConnection, requestsPerConnection < 1 { throw ValidationError("--requests-per-connection must be ≥ 1") }
        if let maxConnections, !(connections...60_000).contains(maxConnections) {
            throw ValidationError("--max-connections must be in --connections…60000")
        }
        guard threads >= 1, threads <= 16, threads <= connections else {
            throw ValidationError("--threads must be in 1…16 and ≤ --connections")
        }
        guard maxId >= 1, maxId <= Int(UInt32.max) else { throw ValidationError("--max-id must be in 1…4294967295") }
        guard listCount >= 1, listCount <= 1000 else { throw ValidationError("--list-count must be in 1…1000") }
        guard zipfS > 0, zipfS.isFinite, zipfS <= 10 else { throw ValidationError("--zipf-s must be in (0, 10]") }
        for h in headers where !h.contains(":") || h.contains("\r") || h.contains("\n") {
            throw ValidationError("--header must look like 'Name: value' (got \(h))")
        }
        _ = try workload()
        _ = try distribution()
    }

    func workload() throws -> Workload {
        switch route {
        case "page": return .page
        case "mix":
            guard let mix else { return .mix(Workload.defaultMix) }
            var weights: [Route: Int] = [:]
            for part in mix.split(separator: ",") {
                let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2, let r = Route(name: kv[0]), let w = Int(kv[1]), w >= 0 else {
                    throw ValidationError("--mix: expected route=weight,… with routes product, styles, related, list (got \(part))")
                }
                weights[r] = w
            }
            guard weights.values.contains(where: { $0 > 0 }) else { throw ValidationError("--mix: every weight is 0") }
            return .mix(weights)
        default:
            guard let r = Route(name: route) else {
                throw ValidationError("--route must be product, styles, related, list, page or mix (got \(route))")
            }
            guard mix == nil else { throw ValidationError("--mix only goes with --route mix") }
            return .single(r)
        }
    }

    func distribution() throws -> IdDistribution {
        switch ids {
        case "uniform": return .uniform
        case "last10": return .last10
        case "zipf": return .zipf(exponent: zipfS)
        default: throw ValidationError("--ids must be uniform, last10 or zipf (got \(ids))")
        }
    }

    func run() throws {
        let target: TargetURL
        do { target = try TargetURL(url) } catch { throw ValidationError(error.description) }
        let config = LoadTestConfiguration(
            url: target, workload: try workload(), distribution: try distribution(), maxId: maxId,
            permutationSeed: zipfPermSeed, rate: rate, duration: duration.nanoseconds, warmup: warmup.nanoseconds,
            timeout: timeout.nanoseconds, connections: connections, threads: threads, headers: headers,
            allow404: allow404, seed: seed, listCount: listCount, maxConnections: maxConnections,
            rampTo: rampTo, requestsPerConnection: requestsPerConnection)
        let quiet = quiet
        let report: LoadReport
        do {
            report = try LoadTest.run(config) { p in
                guard !quiet else { return }
                let phase = p.warmingUp ? "warm-up" : "measuring"
                let text = String(format: "[products-load] %5.1f s %@: sent %d, answered %d, failed %d, waiting for a connection %d\n",
                                  p.elapsed, phase, p.sent, p.completed, p.failed, p.waiting)
                FileHandle.standardError.write(Data(text.utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("products-load: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        print(report.renderText(), terminator: "")
        if let series {
            try Data(report.seriesCSV().utf8).write(to: URL(fileURLWithPath: series))
        }
        if let json {
            let data = try report.jsonData()
            try (data + Data("\n".utf8)).write(to: URL(fileURLWithPath: json))
        }
    }
}

struct Table: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "table",
        abstract: "Markdown summary of a directory of load-test results.",
        discussion: """
            Reads <route>.<ids>.<on|off>.<r<rate>|max>.json files (products-load --json and \
            Deploy/bench/wrk/catalog.lua json=) and prints one row per route × ids × microcache, \
            one column per offered rate plus the closed-loop maximum.
            """)

    @Argument(help: "The results directory.")
    var directory: String

    @Option(help: "Also write every result in one JSON document to this file.")
    var json: String?

    func run() throws {
        let table = try ResultsTable.load(directory: directory)
        print(table.markdown(), terminator: "")
        for problem in table.skipped {
            FileHandle.standardError.write(Data("products-load table: skipped \(problem)\n".utf8))
        }
        if let json {
            try ResultsTable.combinedJSON(directory: directory).write(to: URL(fileURLWithPath: json))
        }
    }
}

/// "30s", "500ms", "2m", "1.5s", "100us", "1h"; a bare number is seconds.
struct DurationOption: ExpressibleByArgument, Sendable {
    var nanoseconds: UInt64

    init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    init?(argument: String) {
        let units: [(String, Double)] = [("ms", 1e6), ("us", 1e3), ("µs", 1e3), ("ns", 1), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var number = Substring(argument)
        var scale = 1e9
        for (suffix, s) in units where argument.hasSuffix(suffix) {
            number = number.dropLast(suffix.count)
            scale = s
            break
        }
        guard let v = Double(number), v >= 0, v.isFinite, v * scale < 1e18 else { return nil }
        nanoseconds = UInt64((v * scale).rounded())
    }

    var defaultValueDescription: String {
        let s = Double(nanoseconds) / 1e9
        return s == s.rounded() ? "\(Int(s))s" : "\(s)s"
    }
}
