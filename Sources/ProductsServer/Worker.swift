import CSystemShims
import FastCGI
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

/// What a worker process needs to serve requests.
public struct WorkerConfiguration: Sendable {
    /// libpq conninfo (`key=value` or `postgresql://` URI) for the API's read-only role.
    /// Put TCP keepalive / `tcp_user_timeout` settings here for a remote database.
    public var database: String
    /// Shown in `pg_stat_activity`.
    public var applicationName: String
    /// libpq `connect_timeout`, seconds (libpq treats anything below 2 as 2). Applied on top
    /// of `database`, so that a dead database host costs at most this much to one request.
    public var connectTimeout: Int
    /// At most one connection attempt per this interval while the database is down; every
    /// other request is answered 503 at once.
    public var reconnectInterval: Duration
    /// The listening socket: fd 0 (`FCGI_LISTENSOCK_FILENO`) under the master.
    public var listeningSocket: Int32
    /// FastCGI connections the worker keeps open between requests (nginx's
    /// `fastcgi_keep_conn on`). 0: libfcgi's own loop, one connection at a time. N > 0: the
    /// worker polls the listening socket and its kept connections together (see
    /// `WorkerLoop.runPolling`).
    public var keptConnections: Int

    public init(
        database: String,
        applicationName: String = "products-server",
        connectTimeout: Int = 2,
        reconnectInterval: Duration = .milliseconds(250),
        listeningSocket: Int32 = 0,
        keptConnections: Int = 0
    ) {
        self.database = database
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
        self.reconnectInterval = reconnectInterval
        self.listeningSocket = listeningSocket
        self.keptConnections = keptConnections
    }
}

/// A worker process: a single-threaded loop of `FCGX_Accept_r` → route → one prepared
/// statement on the worker's own libpq connection → write → `FCGX_Finish_r`.
///
/// - The database connection is made on the first request that needs it and remade when it
///   breaks (see `DatabaseLinkStateMachine`): while the database is down, requests get 503
///   at once, with at most one connection attempt per ``WorkerConfiguration/reconnectInterval``.
/// - SIGTERM, SIGINT and SIGUSR1 stop it gracefully: the request in flight is finished, then
///   the process exits 0. An `accept()` failure exits 1.
/// - Errors are logged, one line each; clients only ever see `{"message": ...}` with a
///   generic message.
public enum Worker {
    /// Serves requests until asked to stop, then exits the process.
    public static func run(_ configuration: WorkerConfiguration, logger: Logger) -> Never {
        var logger = logger
        logger[metadataKey: "worker"] = "\(getpid())"
        // If the master dies without stopping us (SIGKILL, a crash), stop gracefully rather
        // than serve on unsupervised. Checked after arming: the master may already be gone.
        let master = getppid()
        if products_set_parent_death_signal(SIGTERM) != 0 || getppid() != master || master == 1 {
            logger.critical("the master is gone (or the parent-death signal cannot be armed); exiting")
            exit(1)
        }
        var slots: [FastCGIRequest] = []
        do {
            for _ in 0..<max(1, configuration.keptConnections) {
                slots.append(try FastCGIRequest(listeningSocket: configuration.listeningSocket))
            }
            try FastCGIRuntime.installShutdownHandlers()
        } catch {
            logger.critical("cannot start the FastCGI worker: \(error)")
            exit(1)
        }
        var loop = WorkerLoop(configuration: configuration, request: slots[0], logger: logger)
        exit(configuration.keptConnections > 0 ? loop.runPolling(slots: slots) : loop.run())
    }
}

struct WorkerLoop {
    private let configuration: WorkerConfiguration
    /// The request being served (with kept connections: the slot whose connection it came on).
    private var request: FastCGIRequest
    private let logger: Logger
    private let router = Router()
    private var link: DatabaseLinkStateMachine
    private var connection: Connection?
    /// The response being built; reused, so a warm worker allocates no buffer per request.
    private var output: [UInt8] = []

    init(configuration: WorkerConfiguration, request: FastCGIRequest, logger: Logger) {
        self.configuration = configuration
        self.request = request
        self.logger = logger
        self.link = DatabaseLinkStateMachine(retryInterval: configuration.reconnectInterval)
        output.reserveCapacity(64 * 1024)
    }

    /// Serves until shutdown; returns the exit status.
    mutating func run() -> Int32 {
        logger.debug("worker ready")
        while !FastCGIRuntime.isShutdownRequested && request.accept() {
            handleRequest()
            request.finish()
        }
        connection = nil  // PQfinish: a clean goodbye instead of a dropped socket
        if FastCGIRuntime.isShutdownRequested {
            logger.debug("worker stopping: shutdown requested")
            return 0
        }
        logger.error("worker stopping: FastCGI accept failed (status \(request.lastAcceptStatus)\(Self.errnoSuffix(request.lastAcceptStatus)))")
        return 1
    }

    /// Serves with kept FastCGI connections. libfcgi's `FCGX_Accept_r` reads only the
    /// connection a request slot holds, so a worker in `run()` holding a connection that nginx
    /// keeps idle in its pool cannot take anything else (DESIGN.md's keep-conn pitfall). Here
    /// every slot holds at most one connection; `poll` watches the listening socket and every held
    /// connection, and whichever has a request is served:
    ///
    /// - a held connection that is readable: `FCGX_Accept_r` on its slot reads the next request;
    ///   if nginx closed it instead, libfcgi frees the slot and tries `accept()`, which on the
    ///   non-blocking listening socket returns EAGAIN when nothing waits (no blocking);
    /// - the listening socket: a free slot accepts (EAGAIN when another worker was faster). With
    ///   every slot holding a connection, the least recently used one is closed first: a new
    ///   connection means nginx's pool is larger than this server's slots (or it is overloaded),
    ///   and it must not wait in the backlog behind idle kept connections.
    ///
    /// The listening socket is made non-blocking for every worker sharing it (one open file
    /// description), which is why this mode is all-or-nothing per server.
    mutating func runPolling(slots: [FastCGIRequest]) -> Int32 {
        let listener = configuration.listeningSocket
        let flags = fcntl(listener, F_GETFL)
        if flags < 0 || fcntl(listener, F_SETFL, flags | O_NONBLOCK) < 0 {
            logger.critical("cannot make the listening socket non-blocking: \(String(cString: strerror(errno)))")
            return 1
        }
        logger.debug("worker ready (polling, \(slots.count) kept connections)")
        var fds = [pollfd](repeating: pollfd(), count: slots.count + 1)
        var owners = [Int](repeating: -1, count: slots.count + 1)
        var lastUsed = [UInt64](repeating: 0, count: slots.count)
        var clock: UInt64 = 0
        while !FastCGIRuntime.isShutdownRequested {
            var count = 0
            fds[count] = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            owners[count] = -1
            count += 1
            for (index, slot) in slots.enumerated() where slot.connectionDescriptor >= 0 {
                fds[count] = pollfd(fd: slot.connectionDescriptor, events: Int16(POLLIN), revents: 0)
                owners[count] = index
                count += 1
            }
            // A timeout, so that a stop signal landing just before poll() is seen within 1 s.
            let ready = poll(&fds, nfds_t(count), 1000)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.error("worker stopping: poll failed: \(String(cString: strerror(errno)))")
                return 1
            }
            var listenerReady = false
            for k in 0..<count where fds[k].revents != 0 {
                if owners[k] < 0 { listenerReady = true; continue }
                clock += 1
                lastUsed[owners[k]] = clock
                if !serve(slots[owners[k]]) { return 1 }
                if FastCGIRuntime.isShutdownRequested { break }
            }
            if listenerReady, !FastCGIRuntime.isShutdownRequested {
                var index = slots.firstIndex { $0.connectionDescriptor < 0 }
                if index == nil, let oldest = lastUsed.indices.min(by: { lastUsed[$0] < lastUsed[$1] }) {
                    slots[oldest].closeConnection()
                    index = oldest
                }
                if let index {
                    clock += 1
                    lastUsed[index] = clock
                    if !serve(slots[index]) { return 1 }
                }
            }
        }
        connection = nil
        logger.debug("worker stopping: shutdown requested")
        return 0
    }

    /// One `FCGX_Accept_r` on `slot` and, if it brought a request, the answer. False when the
    /// worker must stop (accepting failed with anything but "nothing waiting").
    private mutating func serve(_ slot: FastCGIRequest) -> Bool {
        request = slot
        if slot.accept() {
            handleRequest()
            slot.finish()
            return true
        }
        let status = slot.lastAcceptStatus
        if status == -EAGAIN || status == -EWOULDBLOCK || FastCGIRuntime.isShutdownRequested { return true }
        logger.error("worker stopping: FastCGI accept failed (status \(status)\(Self.errnoSuffix(status)))")
        return false
    }

    private mutating func handleRequest() {
        output.removeAll(keepingCapacity: true)
        let router = self.router
        let (method, routed) = request.withRequestTarget { method, path, query in
            let method = RequestMethod(method)
            return (method, router.route(method: method, path: path, query: query))
        }
        switch routed {
        case .failure(let error):
            Response.append(error: error, method: method, to: &output)
        case .success(let route):
            respond(to: route, method: method)
        }
        do {
            try request.write(output)
        } catch {
            // The web server closed the connection (client gone, timeout): nothing to answer.
            logger.debug("response not delivered: \(error)")
        }
    }

    private mutating func respond(to route: Route, method: RequestMethod) {
        if case .list(let page, let count) = route, Pagination.rankRange(page: page, count: count) == nil {
            // Past any possible end: no need to ask the database.
            Response.appendOKArray(elements: EmptyCollection<UnsafeRawBufferPointer>(), method: method, to: &output)
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
                    let suppressed = link.takeSuppressedCount()
                    if suppressed > 0 {
                        logger.notice("database reachable again, after answering 503 to \(suppressed) requests without trying it")
                    }
                    action = .query
                } catch {
                    link.connectFailed()
                    let suppressed = link.takeSuppressedCount()
                    logger.warning("database unavailable, answering 503: \(Self.oneLine(error.debugDescription))",
                                   metadata: suppressed > 0 ? ["answered_503_since_last_attempt": "\(suppressed)"] : nil)
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
                        logger.error("the catalog has a NULL document for \(route)")
                        Response.append(error: .internalError, method: method, to: &output)
                    }
                    return
                } catch {
                    if error.isConnectionLoss || Self.invalidatesSession(error) {
                        // The server restarted, failed over, or the session's prepared
                        // statements no longer fit the catalog: reconnect (and re-prepare),
                        // then retry this read-only query once.
                        let what = error.isConnectionLoss ? "database connection lost" : "database session invalidated, reconnecting"
                        logger.warning("\(what) during \(route): \(Self.oneLine(error.debugDescription))")
                        self.connection = nil
                        action = link.connectionLost(now: .now)
                    } else if Self.isTransient(error) {
                        logger.warning("query failed for \(route), answering 503: \(Self.oneLine(error.debugDescription))")
                        Response.append(error: .serviceUnavailable, method: method, to: &output)
                        return
                    } else {
                        logger.error("query failed for \(route): \(Self.oneLine(error.debugDescription))")
                        Response.append(error: .internalError, method: method, to: &output)
                        return
                    }
                }
            }
        }
    }

    private mutating func connect() throws(PostgresError) {
        connection = nil
        let new = try Connection(conninfo: configuration.database, overrides: [
            "application_name": configuration.applicationName,
            "connect_timeout": String(configuration.connectTimeout),
        ])
        for statement in Queries.all {
            try new.prepare(statement.name, statement.sql)
        }
        connection = new
        logger.debug("connected to the database (backend pid \(new.backendPID))")
    }

    /// Runs the route's statement and appends the response. Returns false (having appended
    /// nothing useful) if the catalog holds a NULL document, which the importer rules out.
    private mutating func execute(_ route: Route, method: RequestMethod, on connection: Connection) throws(PostgresError) -> Bool {
        switch route {
        case .product(let id):
            return try lookup(Queries.product, id: id, method: method, on: connection)
        case .styles(let id):
            return try lookup(Queries.styles, id: id, method: method, on: connection)
        case .related(let id):
            return try lookup(Queries.related, id: id, method: method, on: connection)
        case .list(let page, let count):
            guard let ranks = Pagination.rankRange(page: page, count: count) else {
                Response.appendOKArray(elements: EmptyCollection<UnsafeRawBufferPointer>(), method: method, to: &output)
                return true
            }
            let result = try connection.executePrepared(
                Queries.list.name, [String(ranks.lowerBound), String(ranks.upperBound)])
            let rows = result.rowCount
            var bytes = 0
            for row in 0..<rows {
                if result.isNull(row: row, column: 0) { return false }
                bytes += result.withBytes(row: row, column: 0) { $0.count }
            }
            Response.appendHead(status: .ok, contentLength: JSONArray.length(elementCount: rows, elementBytes: bytes), to: &output)
            guard !method.omitsBody else { return true }
            JSONArray.appendOpen(to: &output)
            for row in 0..<rows {
                if row > 0 { JSONArray.appendSeparator(to: &output) }
                result.withBytes(row: row, column: 0) { output.append(contentsOf: $0) }
            }
            JSONArray.appendClose(to: &output)
            return true
        }
    }

    /// One primary-key lookup; the id goes over the wire as a binary int4.
    private mutating func lookup(_ statement: Queries.Statement, id: Int32, method: RequestMethod, on connection: Connection) throws(PostgresError) -> Bool {
        let networkOrder = id.bigEndian
        let result = try withUnsafeBytes(of: networkOrder) { (raw) throws(PostgresError) -> QueryResult in
            try connection.executePrepared(statement.name, parameter: raw.assumingMemoryBound(to: CChar.self))
        }
        guard result.rowCount > 0 else {
            Response.append(error: .productNotFound(id), method: method, to: &output)
            return true
        }
        if result.isNull(row: 0, column: 0) { return false }
        result.withBytes(row: 0, column: 0) { Response.appendOK(body: $0, method: method, to: &output) }
        return true
    }

    /// Errors after which this session cannot go on as it is: its prepared statement is gone
    /// (26000, e.g. after a pooler's DISCARD ALL) or its cached plan no longer fits the
    /// catalog's columns (0A000, "cached plan must not change result type").
    private static func invalidatesSession(_ error: PostgresError) -> Bool {
        error.sqlState == "26000" || error.sqlState == "0A000"
    }

    /// Errors worth a retry later: statement timeout / cancel (57014), a standby's recovery
    /// conflict (40001), insufficient resources (class 53).
    private static func isTransient(_ error: PostgresError) -> Bool {
        guard let state = error.sqlState else { return false }
        return state == "57014" || state == "40001" || state.hasPrefix("53")
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

    private static func errnoSuffix(_ status: Int32) -> String {
        status < 0 && status > -4096 ? ": \(String(cString: strerror(-status)))" : ""
    }
}
