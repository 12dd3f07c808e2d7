import SystemCalls
import CSystemShims
import FastCGI
import Gzip
import Logging
import Postgres
import ProductsAPI
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One request, once `WorkerLoop.run` has a whole one in libfcgi's hands: the route, the
/// database (connect, prepared lookup, what an error means), the response bytes and headers
/// (ETag, 304), the scoreboard's counts.
extension WorkerLoop {
    /// Answers the request libfcgi has read; returns what it counts under in the scoreboard.
    mutating func handleRequest() -> MetricRoute {
        output.removeAll(keepingCapacity: true)
        let router = self.router
        let (method, routed) = request.withRequestTarget { method, path, query in
            let method = RequestMethod(method)
            return (method, router.route(method: method, path: path, query: query))
        }
        let counted: MetricRoute
        switch routed {
        case .failure(let error):
            Response.append(error: error, method: method, to: &output)
            counted = .unrouted
        case .success(let route):
            respond(to: route, method: method)
            counted = MetricRoute(route)
        }
        do {
            try request.write(output)
        } catch {
            // The web server closed the connection (client gone, timeout): nothing to answer.
            logger.debug("response not delivered: \(error)")
        }
        return counted
    }

    /// The status code of the response in `output` (`Status: 200 OK...`, Response's first line).
    static func statusCode(of output: [UInt8]) -> Int {
        let prefix = 8  // "Status: "
        guard output.count >= prefix + 3 else { return 0 }
        var code = 0
        for byte in output[prefix..<(prefix + 3)] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return 0 }
            code = code * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return code
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000 &+ UInt64(now.tv_nsec / 1000)
    }

    /// `/_status`: the pool's counters from the scoreboard (404 without one: a worker started
    /// outside a master has nothing to report).
    private mutating func respondStatus(_ format: StatusFormat, method: RequestMethod) {
        guard let scoreboard else {
            Response.append(error: .routeNotFound, method: method, to: &output)
            return
        }
        var queued: UInt32 = 0, limit: UInt32 = 0
        let listenQueue = products_listen_queue(configuration.listeningSocket, &queued, &limit) == 0 ? (queued, limit) : nil
        let page = StatusPage(snapshot: scoreboard.snapshot(), listenQueue: listenQueue, now: Scoreboard.unixTime())
        switch format {
        case .text: Response.appendOK(body: Array(page.text().utf8), contentType: StatusPage.textContentType, method: method, to: &output)
        case .openMetrics: Response.appendOK(body: Array(page.openMetrics().utf8), contentType: StatusPage.openMetricsContentType, method: method, to: &output)
        }
    }

    private mutating func respond(to route: Route, method: RequestMethod) {
        if route == .live {
            // Liveness: this worker answers; the database is the readiness check's business.
            Response.appendHealth(generation: nil, method: method, to: &output)
            return
        }
        if case .status(let format) = route {
            respondStatus(format, method: method)
            return
        }
        if case .list(let page, let count) = route, Pagination.rankRange(page: page, count: count) == nil {
            // Past any possible end: no need to ask the database.
            Response.appendOKArray(elements: EmptyCollection<UnsafeRawBufferPointer>(), method: method, to: &output)
            return
        }
        if route != .ready, let budget = configuration.maxQueueTime, let waited = queueTime(), overloaded(waited: waited, budget: budget) {
            // Overload: by now the client has waited most of what it will. A query would make
            // the next requests wait longer still; a 503 costs microseconds (nginx adds
            // Retry-After, or serves the expired cached copy).
            slot?.count(.shedQueueTime)
            Response.append(error: .serviceUnavailable, method: method, to: &output)
            return
        }
        var action = link.requestStarted(now: .now)
        while true {
            switch action {
            case .unavailable:
                Response.append(error: .serviceUnavailable, method: method, to: &output)
                return

            case .connect:
                do {
                    try connect()
                    link.connected()
                    slot?.count(.databaseConnects)
                    let suppressed = link.takeSuppressedCount()
                    if suppressed > 0 {
                        logger.notice("database reachable again, after answering 503 to \(suppressed) requests without trying it")
                    }
                    action = .query
                } catch {
                    link.connectFailed()
                    slot?.count(.databaseConnectFailures)
                    let suppressed = link.takeSuppressedCount()
                    var metadata = requestMetadata()
                    if suppressed > 0 { metadata["answered_503_since_last_attempt"] = "\(suppressed)" }
                    logger.warning("database unavailable, answering 503: \(Self.oneLine(error.debugDescription))",
                                   metadata: metadata)
                    Response.append(error: .serviceUnavailable, method: method, to: &output)
                    return
                }

            case .query:
                guard let connection else {
                    action = link.connectionLost(now: .now)
                    continue
                }
                do {
                    let mark = output.count
                    if try !execute(route, method: method, on: connection) {
                        output.removeSubrange(mark...)
                        logger.error("the catalog has a NULL document for \(route)", metadata: requestMetadata())
                        Response.append(error: .internalError, method: method, to: &output)
                    }
                    return
                } catch {
                    if error.isConnectionLoss || error.invalidatesSession {
                        // The server restarted, failed over, or the session's prepared
                        // statements no longer fit the catalog: reconnect (and re-prepare),
                        // then retry this read-only query once.
                        let what = error.isConnectionLoss ? "database connection lost" : "database session invalidated, reconnecting"
                        logger.warning("\(what) during \(route): \(Self.oneLine(error.debugDescription))", metadata: requestMetadata())
                        self.connection = nil
                        action = link.connectionLost(now: .now)
                        slot?.count(.databaseConnectionsLost)
                    } else if error.isRecoveryConflict, let lost = self.connection {
                        // A standby cancelled the query to replay the primary's changes
                        // (max_standby_streaming_delay): retry once, on another server if
                        // the conninfo names one (ConninfoHosts), never a 5xx for it.
                        logger.warning("recovery conflict on \(lost.host):\(lost.port) during \(route), retrying on another server: \(Self.oneLine(error.debugDescription))",
                                       metadata: requestMetadata())
                        avoidHost = (lost.host, lost.port)
                        slot?.count(.recoveryConflicts)
                        self.connection = nil
                        action = link.connectionLost(now: .now)
                    } else if error.isTransient {
                        logger.warning("query failed for \(route), answering 503: \(Self.oneLine(error.debugDescription))",
                                       metadata: requestMetadata())
                        Response.append(error: .serviceUnavailable, method: method, to: &output)
                        return
                    } else {
                        logger.error("query failed for \(route): \(Self.oneLine(error.debugDescription))", metadata: requestMetadata())
                        Response.append(error: .internalError, method: method, to: &output)
                        return
                    }
                }
            }
        }
    }

    /// The request's id (nginx's `$request_id`, fastcgi-params.conf: REQUEST_ID), for the log
    /// line of a request that failed: the same id is in nginx's access log (`rid=`) and in the
    /// response's `X-Request-Id`, so one failed request can be followed from the client to here.
    private func requestMetadata() -> Logger.Metadata {
        let id = request.withParam("REQUEST_ID") { $0.map { String(decoding: $0, as: UTF8.self) } }
        return id.map { ["request_id": "\($0)"] } ?? [:]
    }

    private mutating func connect() throws(PostgresError) {
        connection = nil
        var overrides = [
            "application_name": configuration.applicationName,
            "connect_timeout": String(configuration.connectTimeout),
        ]
        if let avoid = avoidHost {
            avoidHost = nil
            if let elsewhere = conninfoHosts?.overrides(avoiding: avoid.host, port: avoid.port) {
                overrides.merge(elsewhere) { _, new in new }
            }
        }
        let new: Connection
        do {
            new = try Connection(conninfo: configuration.database, overrides: overrides)
        } catch where hasSeveralHosts {
            // libpq moves to the next host when one refuses or is not the kind asked for, but
            // gives up on all of them when one accepts and then drops the connection or
            // answers FATAL (a server in the middle of shutting down: it does so for as long
            // as its shutdown checkpoint takes; measured: Deploy/host/test-cluster, the replica
            // stopped under load, 34 answers 503 when this retry went to the same host). Once
            // more with that host last, so another server answers if one is up.
            var retry = overrides
            if let failed = error.failedServer,
               let elsewhere = conninfoHosts?.overrides(avoiding: failed.host, port: failed.port) {
                retry.merge(elsewhere) { _, new in new }
            }
            new = try Connection(conninfo: configuration.database, overrides: retry)
        }
        for statement in Queries.all {
            try new.prepare(statement.name, statement.sql)
        }
        connection = new
        gzipCatalog = .unknown
        if let lifetime = configuration.databaseLifetime {
            // Up to a fifth shorter at random: the pool's workers do not reconnect together.
            connectionExpiry = .now + lifetime - lifetime * Double.random(in: 0..<0.2)
        }
        logger.debug("connected to the database at \(new.host):\(new.port)\(new.isHotStandby ? " (hot standby)" : "") (backend pid \(new.backendPID))")
    }

    /// Runs the route's statement and appends the response. Returns false (having appended
    /// nothing useful) if the catalog holds a NULL document, which the importer rules out.
    private mutating func execute(_ route: Route, method: RequestMethod, on connection: Connection) throws(PostgresError) -> Bool {
        switch route {
        case .product(let id):
            return try document(Queries.product, Queries.productGzip, id: id, route: route, method: method, on: connection)
        case .styles(let id):
            return try document(Queries.styles, Queries.stylesGzip, id: id, route: route, method: method, on: connection)
        case .related(let id):
            return try document(Queries.related, Queries.relatedGzip, id: id, route: route, method: method, on: connection)
        case .live:
            Response.appendHealth(generation: nil, method: method, to: &output)
            return true
        case .status(let format):
            respondStatus(format, method: method)
            return true
        case .ready:
            let result = try connection.executePrepared(Queries.readiness.name, [])
            if result.rowCount == 0 || result.isNull(row: 0, column: 0) {
                Response.append(error: .catalogNotLoaded, method: method, to: &output)
            } else {
                let generation = result.withBytes(row: 0, column: 0) { String(decoding: $0, as: UTF8.self) }
                Response.appendHealth(generation: generation, method: method, to: &output)
            }
            return true
        case .list(let page, let count):
            guard let ranks = Pagination.rankRange(page: page, count: count) else {
                Response.appendOKArray(elements: EmptyCollection<UnsafeRawBufferPointer>(), method: method, to: &output)
                return true
            }
            let result = try connection.executePrepared(
                Queries.list.name, [String(ranks.lowerBound), String(ranks.upperBound)])
            let rows = result.rowCount
            for row in 0..<rows where result.isNull(row: row, column: 0) { return false }
            // A page past the end has no row, hence no generation and no ETag.
            let gzip = rows > 0 && acceptsGzip
            let tagged = rows > 0 && setETag(from: result, route: route, gzip: gzip)
            if tagged, answeredNotModified() { return true }
            let tag = etag
            if gzip, tagged {
                // A page joins `count` products' rows: its gzip cannot be made at import.
                uncompressed.removeAll(keepingCapacity: true)
                result.withColumn(0) { JSONArray.append(elements: $0, to: &uncompressed) }
                let page = uncompressed
                page.withUnsafeBytes { appendCompressed($0, method: method, etag: tag) }
                return true
            }
            result.withColumn(0) { documents in
                tag.withUnsafeBytes { tag in
                    Response.appendOKArray(elements: documents, method: method, etag: tagged ? tag : nil, held: held, to: &output)
                }
            }
            return true
        }
    }

    /// How long every request this worker read has waited longer than `budget` before it
    /// sheds one: ``overloaded(waited:budget:)``.
    static let sheddingInterval: Duration = .milliseconds(200)

    /// True when `waited` is over `budget` and so was every request this worker read in the
    /// last ``sheddingInterval`` (CoDel's rule: a standing queue, not a burst). A single late
    /// request is served (measured: test-cluster's powered-off app host, 36 of 6,000 retries
    /// refused without this rule; the retries themselves: ``queueTime()``).
    mutating func overloaded(waited: Duration, budget: Duration) -> Bool {
        guard waited > budget else {
            lateSince = nil
            return false
        }
        let now = ContinuousClock.now
        guard let since = lateSince else {
            lateSince = now
            return false
        }
        return now - since >= Self.sheddingInterval
    }

    /// How long the request waited between nginx handing it upstream (`REQUEST_START`, nginx's
    /// `$msec`: Unix seconds with milliseconds, snippets/fastcgi-params.conf) and now: in the
    /// kept connection's socket buffer or the listen queue while every worker was busy; at
    /// most the time since this worker last saw nothing to read on the request's connection
    /// (or to accept, for a new one; ``requestArrivedAfter``). That bound is what makes
    /// a retry's wait honest: nginx keeps the `REQUEST_START` of a request it retries on
    /// another app host after the first went away (1 s of connect or 3 s of read timeout), so
    /// when an app host dies the others get a burst of requests seconds "late" that never
    /// queued there; without the bound a host at work refused some of them (test-cluster
    /// --alb, an app host powered off under 300 req/s: 1 of 6,000 in 2 of 8 runs, 2026-12-07).
    /// nil without the parameter, or when the two clocks disagree by more than 10 s (nginx on
    /// another host without a synchronized clock: shedding on it would refuse everything, so
    /// it is skipped, and said once in the log).
    mutating func queueTime() -> Duration? {
        let started: Duration? = request.withParam("REQUEST_START") { value in
            guard let value else { return nil }
            var seconds: Int64 = 0, millis: Int64 = 0, digits = 0, fraction = false
            for byte in value {
                if byte == UInt8(ascii: ".") {
                    guard !fraction else { return nil }
                    fraction = true
                } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                    let digit = Int64(byte - UInt8(ascii: "0"))
                    if fraction {
                        guard digits < 3 else { continue }
                        millis = millis * 10 + digit
                        digits += 1
                    } else {
                        guard seconds < Int64.max / 100 else { return nil }
                        seconds = seconds * 10 + digit
                    }
                } else {
                    return nil
                }
            }
            while digits < 3 { millis *= 10; digits += 1 }
            return .seconds(seconds) + .milliseconds(millis)
        }
        guard let started else { return nil }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let waited = Duration.seconds(Int64(now.tv_sec)) + .nanoseconds(Int64(now.tv_nsec)) - started
        guard waited < .seconds(10), waited > .seconds(-10) else {
            if !clockWarningLogged {
                logger.warning("REQUEST_START is \(waited) from this host's clock: is nginx's host on another clock? Queue-time shedding (--max-queue-time) stays off while they disagree by more than 10 s")
            }
            clockWarningLogged = true
            return nil
        }
        guard let requestArrivedAfter else { return max(waited, .zero) }
        return max(min(waited, ContinuousClock.now - requestArrivedAfter), .zero)
    }

    /// The client accepts gzip: nginx's `PRODUCTS_GZIP` (snippets/fastcgi-params.conf), `1`
    /// when the request's Accept-Encoding names gzip without `q=0`, and part of the cache key.
    private var acceptsGzip: Bool {
        request.withParam("PRODUCTS_GZIP") { $0?.count == 1 && $0?.first == UInt8(ascii: "1") }
    }

    /// A product, styles or related document. A client that accepts gzip gets the one made at
    /// import (``Queries/gzip``); if the catalog has none (imported by an older importer), the
    /// document compressed here.
    private mutating func document(_ identity: Queries.Statement, _ gzipped: Queries.Statement, id: Int32, route: Route,
                                   method: RequestMethod, on connection: Connection) throws(PostgresError) -> Bool {
        guard acceptsGzip else { return try lookup(identity, id: id, route: route, method: method, on: connection) }
        if try gzipStatementsReady(on: connection) {
            do {
                return try lookup(gzipped, id: id, route: route, method: method, on: connection, representation: .stored)
            } catch where error.sqlState == SQLState.undefinedTable {
                // The view went away under a prepared statement (an older importer's swap
                // dropped the schema it pointed at): compress here until it is back.
                gzipCatalogMissing(error)
            }
        }
        return try lookup(identity, id: id, route: route, method: method, on: connection, representation: .compressHere)
    }

    /// Prepares the gzip lookups on this connection the first time they are needed; false
    /// while the catalog has no `catalog.product_gzip` (asked again every 30 s).
    private mutating func gzipStatementsReady(on connection: Connection) throws(PostgresError) -> Bool {
        switch gzipCatalog {
        case .prepared: return true
        case .missing(let until) where ContinuousClock.now < until: return false
        case .unknown, .missing: break
        }
        do {
            for statement in Queries.gzip {
                do {
                    try connection.prepare(statement.name, statement.sql)
                } catch where error.sqlState == SQLState.duplicatePreparedStatement {
                    continue  // prepared before the view went away: still valid once it is back
                }
            }
            if case .missing = gzipCatalog { logger.info("catalog.product_gzip is back: serving the gzip documents made at import") }
            gzipCatalog = .prepared
            return true
        } catch where error.sqlState == SQLState.undefinedTable {
            gzipCatalogMissing(error)
            return false
        }
    }

    private mutating func gzipCatalogMissing(_ error: PostgresError) {
        if case .missing = gzipCatalog {} else {
            logger.notice("the catalog has no gzip documents (catalog.product_gzip; imported by an older products-import?): compressing responses for gzip clients here until an import adds them")
        }
        gzipCatalog = .missing(until: .now + .seconds(30))
    }

    /// What a lookup's row is: the identity document; a `catalog.product_gzip` document (gzip
    /// or, if that was not smaller, identity: the first bytes tell); or the identity document
    /// to be compressed here.
    enum Representation { case identity, stored, compressHere }

    /// One primary-key lookup; the id goes over the wire as a binary int4.
    private mutating func lookup(_ statement: Queries.Statement, id: Int32, route: Route, method: RequestMethod,
                                 on connection: Connection, representation: Representation = .identity) throws(PostgresError) -> Bool {
        let networkOrder = id.bigEndian
        let result = try withUnsafeBytes(of: networkOrder) { (raw) throws(PostgresError) -> QueryResult in
            try connection.executePrepared(statement.name, parameter: raw.assumingMemoryBound(to: CChar.self),
                                           binaryResult: representation == .stored)
        }
        guard result.rowCount > 0 else {
            Response.append(error: .productNotFound(id), method: method, to: &output)
            return true
        }
        if result.isNull(row: 0, column: 0) { return false }
        let gzip = switch representation {
        case .identity: false
        case .stored: result.withBytes(row: 0, column: 0) { Gzip.isGzip($0) }
        case .compressHere: true
        }
        let tagged = setETag(from: result, route: route, gzip: gzip)
        if tagged, answeredNotModified() { return true }
        let tag = etag
        if representation == .compressHere {
            result.withBytes(row: 0, column: 0) { appendCompressed($0, method: method, etag: tagged ? tag : nil) }
            return true
        }
        tag.withUnsafeBytes { tag in
            result.withBytes(row: 0, column: 0) {
                Response.appendOK(body: $0, method: method, etag: tagged ? tag : nil, gzip: gzip, held: held, to: &output)
            }
        }
        return true
    }

    /// zlib's level for what the worker compresses itself, per cache miss: the fastest (the
    /// import's level 6 saves ~7 % more bytes at ~1.5x the CPU, `Deploy/bench/compression`).
    static let gzipLevel: Int32 = 1

    /// Appends a 200 whose body is `body` compressed here, tagged `tag` (already the gzip one;
    /// nil: untagged).
    private mutating func appendCompressed(_ body: UnsafeRawBufferPointer, method: RequestMethod, etag tag: [UInt8]?) {
        if compressor == nil { compressor = GzipCompressor(level: Self.gzipLevel) }
        compressed.removeAll(keepingCapacity: true)
        compressor!.compress(body, appendingTo: &compressed)
        let packed = compressed
        packed.withUnsafeBytes { body in
            guard let tag else { return Response.appendOK(body: body, method: method, gzip: true, to: &output) }
            tag.withUnsafeBytes { Response.appendOK(body: body, method: method, etag: $0, gzip: true, held: held, to: &output) }
        }
    }

    /// Renders the ETag of `route` in the generation of `result`'s first row into ``etag``, and
    /// sets ``held``: that generation is the one nginx keys its cache with (snippets/
    /// fastcgi-params.conf), so nginx may keep the answer until the next import.
    /// False (no ETag) when the row has no generation, which the importer's view rules out.
    private mutating func setETag(from result: QueryResult, route: Route, gzip: Bool = false) -> Bool {
        etag.removeAll(keepingCapacity: true)
        held = false
        guard !result.isNull(row: 0, column: 1) else { return false }
        result.withBytes(row: 0, column: 1) { generation in
            EntityTag.append(generation: generation, route: route, gzip: gzip, to: &etag)
            slot?.servedGeneration(generation)
            let keyed = request.withParam("PRODUCTS_CACHE_GENERATION") { (key) -> Bool? in
                guard let key, !key.isEmpty else { return nil }
                return key.elementsEqual(generation)
            }
            held = keyed == true
            if keyed == false { slot?.count(.cacheGenerationOther) }
        }
        return true
    }

    /// Answers 304 (and returns true) when the request's `If-None-Match` names ``etag``: the
    /// client's, which nginx passes when the cache is bypassed (snippets/fastcgi-params.conf;
    /// with the cache on, nginx answers it itself and sends none of its own).
    private mutating func answeredNotModified() -> Bool {
        let tag = etag
        let matched = request.withParam("HTTP_IF_NONE_MATCH") { field in
            field.map { field in tag.withUnsafeBytes { EntityTag.matches(ifNoneMatch: field, etag: $0) } } ?? false
        }
        if matched { tag.withUnsafeBytes { Response.appendNotModified(etag: $0, to: &output) } }
        return matched
    }

    /// libpq messages span lines (`...failed: ...\n\tIs the server running...`): one log
    /// line per error.
    static func oneLine(_ text: String) -> String {
        var result = ""
        var pendingSpace = false
        for character in text {
            if character.isWhitespace {
                pendingSpace = !result.isEmpty
            } else {
                if pendingSpace { result.append(" ") }
                pendingSpace = false
                result.append(character)
            }
        }
        return result
    }

    static func errnoSuffix(_ status: Int32) -> String {
        status < 0 && status > -4096 ? ": \(String(cString: strerror(-status)))" : ""
    }
}
