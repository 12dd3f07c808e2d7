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
    /// `fastcgi_keep_conn on`): the worker polls the listening socket and its kept
    /// connections together (see `WorkerLoop.run`). 0 is taken as 1: for an nginx that does
    /// not keep connections, each connection is closed after its request anyway.
    public var keptConnections: Int
    /// How long a database connection is used before the worker closes it (between two
    /// requests) and connects again; nil: for as long as it works. With a multi-host conninfo
    /// this is what brings a worker back to its preferred server — the replica it left when the
    /// replica stopped, or after a recovery conflict sent it elsewhere — because libpq only
    /// chooses a host when it connects. Each worker's lifetime is shortened by up to a fifth
    /// at random, so the pool does not reconnect all at once.
    public var databaseLifetime: Duration?
    /// The master's ``Scoreboard`` (fd 3 under the master); nil: requests are not counted and
    /// `/_status` is 404 (a worker started by hand or by spawn-fcgi).
    public var scoreboardDescriptor: Int32?
    /// A catalog request that waited longer than this between nginx handing it upstream
    /// (`REQUEST_START`, nginx's `$msec`) and this worker reading it is answered 503 at once,
    /// without a query (``WorkerLoop/queueTime()``); nil: never. See docs/reliability.md
    /// ("Overload").
    public var maxQueueTime: Duration?

    public init(
        database: String,
        applicationName: String = "products-server",
        connectTimeout: Int = 2,
        reconnectInterval: Duration = .milliseconds(250),
        listeningSocket: Int32 = 0,
        keptConnections: Int = 0,
        databaseLifetime: Duration? = nil,
        scoreboardDescriptor: Int32? = nil,
        maxQueueTime: Duration? = nil
    ) {
        self.database = database
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
        self.reconnectInterval = reconnectInterval
        self.listeningSocket = listeningSocket
        self.keptConnections = keptConnections
        self.databaseLifetime = databaseLifetime
        self.scoreboardDescriptor = scoreboardDescriptor
        self.maxQueueTime = maxQueueTime
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
        // Spawned through /proc/self/exe, the kernel calls this process "exe": name it as the
        // master is named, so that top, pgrep and `ps -C products-server` show the whole pool.
        _ = products_set_process_name("products-server")
        // If the master dies without stopping us (SIGKILL, a crash), stop gracefully rather
        // than serve on unsupervised. Checked after arming: the master may already be gone.
        let master = getppid()
        if products_set_parent_death_signal(SIGTERM) != 0 || getppid() != master || master == 1 {
            logger.critical("the master is gone (or the parent-death signal cannot be armed); exiting")
            exit(1)
        }
        let request: FastCGIRequest
        do {
            // Listening socket -1: libfcgi never accepts on its own (see `accept(connection:)`).
            request = try FastCGIRequest(listeningSocket: -1)
            try FastCGIRuntime.installShutdownHandlers()
        } catch {
            logger.critical("cannot start the FastCGI worker: \(error)")
            exit(1)
        }
        var scoreboard: Scoreboard?
        var slot: ScoreboardSlot?
        if let fd = configuration.scoreboardDescriptor {
            do {
                scoreboard = try Scoreboard.attach(fileDescriptor: fd)
                slot = scoreboard?.claimSlot(pid: getpid())
                if slot == nil { logger.warning("no free scoreboard slot: this worker's requests are not counted") }
            } catch {
                logger.error("cannot use the scoreboard, serving without counters: \(error)")
            }
        }
        var loop = WorkerLoop(configuration: configuration, request: request, logger: logger,
                              scoreboard: scoreboard, slot: slot)
        exit(loop.run())
    }
}

/// Whether a database connection can read the import's gzip documents (``Queries/gzip``).
enum GzipCatalog {
    case unknown
    case prepared
    /// The catalog has no `catalog.product_gzip`: look again after `until`.
    case missing(until: ContinuousClock.Instant)
}

struct WorkerLoop {
    let configuration: WorkerConfiguration
    /// libfcgi's request state, lent each connection while its request is served.
    let request: FastCGIRequest
    let logger: Logger
    let router = Router()
    var link: DatabaseLinkStateMachine
    var connection: Connection?
    /// When ``connection`` is to be replaced (``WorkerConfiguration/databaseLifetime``).
    var connectionExpiry: ContinuousClock.Instant?
    /// The conninfo's host list, parsed once (nil if libpq cannot parse it: connecting says why).
    let conninfoHosts: ConninfoHosts?
    /// The conninfo names more than one server (scale-out: replicas, then the primary).
    var hasSeveralHosts: Bool { (conninfoHosts?.entries.count ?? 0) > 1 }
    /// After a recovery conflict: the server to put last in the next connection's host list.
    var avoidHost: (host: String, port: String)?
    /// The response being built; reused, so a warm worker allocates no buffer per request.
    var output: [UInt8] = []
    /// Where a connection's unread bytes are peeked at (``FastCGIRequestScan/peekLimit``).
    var peekBuffer = [UInt8](repeating: 0, count: FastCGIRequestScan.peekLimit)
    /// The ETag of the response being built (``EntityTag``); reused like ``output``.
    var etag: [UInt8] = []
    /// The answer's generation is the one in nginx's cache key (`PRODUCTS_CACHE_GENERATION`):
    /// nginx may keep it until the next import (``CachePolicy``, "held"). Set with ``etag``.
    var held = false
    /// Whether ``connection`` has the gzip lookups prepared (``Queries/gzip``).
    var gzipCatalog: GzipCatalog = .unknown
    /// Compresses what the import did not (a list page; every document of a catalog imported
    /// before `catalog.product_gzip` existed); made on first use.
    var compressor: GzipCompressor?
    /// The queue time was implausible (clocks of nginx's host and this one disagree): said
    /// once in the log, not per request.
    var clockWarningLogged = false
    /// Since when every request read has waited longer than --max-queue-time (nil: the last
    /// one did not).
    var lateSince: ContinuousClock.Instant?
    /// When this worker last found nothing to accept on the listening socket (``run()``).
    var listenerQuietSince: ContinuousClock.Instant?
    /// When this worker last saw nothing to read on the connection of the request being
    /// served: the request reached this host after that, so it has waited here no longer
    /// than the time since (``queueTime()``). nil: not known.
    var requestArrivedAfter: ContinuousClock.Instant?
    /// A body being compressed; reused like ``output``.
    var uncompressed: [UInt8] = []
    var compressed: [UInt8] = []
    /// The pool's counters (`/_status`) and this worker's slot in them.
    let scoreboard: Scoreboard?
    var slot: ScoreboardSlot?

    init(configuration: WorkerConfiguration, request: FastCGIRequest, logger: Logger,
         scoreboard: Scoreboard? = nil, slot: ScoreboardSlot? = nil) {
        self.scoreboard = scoreboard
        self.slot = slot
        self.configuration = configuration
        self.conninfoHosts = ConninfoHosts(conninfo: configuration.database)
        self.request = request
        self.logger = logger
        self.link = DatabaseLinkStateMachine(retryInterval: configuration.reconnectInterval)
        output.reserveCapacity(64 * 1024)
    }

    /// Serves until shutdown; returns the exit status.
    ///
    /// The worker accepts connections itself and keeps up to `keptConnections` of them open
    /// between requests (nginx's `fastcgi_keep_conn on`): `poll` watches the listening socket
    /// and every kept connection, and whichever has a request is served. libfcgi only ever
    /// parses a request that is already wholly buffered (``KeptConnections``): its reads block
    /// without a timeout, so handing it a connection earlier would let anyone who can reach the
    /// socket pin the worker with a few bytes of a record header (issue 13). A request still
    /// incomplete `partialTimeout` (1 s) after it was first seen is dropped with its connection.
    ///
    /// The listening socket is made non-blocking for every worker sharing it (one open file
    /// description): `accept` returns EAGAIN when another worker was faster.
    mutating func run() -> Int32 {
        let listener = configuration.listeningSocket
        let flags = fcntl(listener, F_GETFL)
        if flags < 0 || fcntl(listener, F_SETFL, flags | O_NONBLOCK) < 0 {
            logger.critical("cannot make the listening socket non-blocking: \(String(cString: strerror(errno)))")
            return 1
        }
        var kept = KeptConnections(capacity: max(1, configuration.keptConnections), partialTimeout: Self.partialTimeout)
        logger.debug("worker ready (\(kept.capacity) kept connections)")
        var fds: [pollfd] = []
        fds.reserveCapacity(kept.capacity + 1)
        var status: Int32 = 0
        serving: while !FastCGIRuntime.isShutdownRequested {
            fds.removeAll(keepingCapacity: true)
            let watchListener = kept.canTakeAConnection
            if watchListener { fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }
            for fd in kept.awaitingInput { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            // A timeout, so that a stop signal landing just before poll() is seen within 1 s.
            let timeout = Int32(milliseconds(roundingUp: kept.pollTimeout(idle: .seconds(1))))
            // First without waiting: when nothing is there, the worker is idle, and that moment
            // bounds the queue time of whatever it reads next (``requestArrivedAfter``). Under
            // load something always is, and this is the only poll of the turn.
            var ready = poll(&fds, nfds_t(fds.count), 0)
            if ready == 0 {
                noteQuiet(fds, listener: watchListener, at: .now, &kept)
                ready = poll(&fds, nfds_t(fds.count), timeout)
            }
            if ready >= 0 { noteQuiet(fds, listener: watchListener, at: .now, &kept) }
            if ready < 0 {
                // EINTR is not retried here, unlike everywhere else (SystemCalls): the signal
                // may be the stop request, which the loop's condition must see now.
                if errno == EINTR { continue }
                logger.error("worker stopping: poll failed: \(String(cString: strerror(errno)))")
                status = 1
                break
            }
            retireExpiredDatabaseConnection()
            var listenerReady = false
            var readable = kept.incomplete  // re-peeked on every turn: they are not polled
            for entry in fds where entry.revents != 0 {
                if watchListener && entry.fd == listener { listenerReady = true } else { readable.append(entry.fd) }
            }
            for fd in readable {
                if FastCGIRuntime.isShutdownRequested { break serving }
                look(at: fd, &kept)
            }
            if listenerReady, !FastCGIRuntime.isShutdownRequested {
                guard let fd = acceptConnection(&kept) else { status = 1; break }
                // nginx writes the request right after connecting: usually already here.
                if fd >= 0 { look(at: fd, &kept) }
            }
        }
        for entry in kept.entries { close(entry.fd) }
        connection = nil  // PQfinish: a clean goodbye instead of a dropped socket
        if status == 0 { logger.debug("worker stopping: shutdown requested") }
        return status
    }

    /// Notes what `poll` found nothing on at `now`: the listening socket (first in `fds` when
    /// `listener`) and the kept connections (``requestArrivedAfter``).
    private mutating func noteQuiet(_ fds: [pollfd], listener: Bool, at now: ContinuousClock.Instant,
                                    _ kept: inout KeptConnections) {
        if listener, fds.first?.revents == 0 { listenerQuietSince = now }
        kept.sawQuiet(fds.dropFirst(listener ? 1 : 0).lazy.filter { $0.revents == 0 }.map(\.fd), at: now)
    }

    /// Closes the database connection once its lifetime is over (``WorkerConfiguration/databaseLifetime``),
    /// between two requests, idle or not: poll wakes at least once a second, so a worker that
    /// gets no requests does not hold on to a server it should have left (the primary, when a
    /// replica is back). The next request connects again, choosing the host anew.
    private mutating func retireExpiredDatabaseConnection() {
        guard connection != nil, let expiry = connectionExpiry, ContinuousClock.now >= expiry else { return }
        logger.debug("database connection lifetime over; the next request connects again")
        connection = nil
        connectionExpiry = nil
        link.connectionClosed()
    }

    /// How long a request may stay incomplete on a connection before it is closed. nginx
    /// sends a whole request at once; anything slower is not nginx, or not healthy.
    static let partialTimeout: Duration = .seconds(1)
    /// Bounds a blocking write of a response to a peer that does not read (nginx reads at
    /// once); and, as a backstop, any read (only buffered requests are ever read).
    static let sendTimeout = timeval(tv_sec: 2, tv_usec: 0)
    static let receiveTimeout = timeval(tv_sec: 1, tv_usec: 0)

    /// Peeks at `fd`'s unread bytes and carries out what ``KeptConnections`` decides.
    private mutating func look(at fd: Int32, _ kept: inout KeptConnections) {
        guard let peek = peek(fd) else { return }
        switch kept.peeked(fd, peek, now: .now) {
        case .wait:
            break
        case .close(let fd, let reason):
            close(fd)
            if reason == .incompleteTooLong { slot?.count(.incompleteRequestsDropped) }
            if reason == .peerClosed {
                logger.trace("connection closed by the peer")
            } else {
                logger.info("closing a FastCGI connection: \(reason)")
            }
        case .serve(let fd):
            let started = slot == nil ? 0 : Self.monotonicMicroseconds()
            requestArrivedAfter = kept.quietSince(of: fd)
            slot?.requestStarted()
            let accepted = request.accept(connection: fd)
            if accepted {
                let route = handleRequest()
                request.finish()
                slot?.requestFinished(route: route, status: Self.statusCode(of: output),
                                      microseconds: Self.monotonicMicroseconds() &- started)
            } else {
                slot?.requestAbandoned()
            }
            if !accepted, !FastCGIRuntime.isShutdownRequested {
                logger.info("libfcgi rejected a request (status \(request.lastAcceptStatus)\(Self.errnoSuffix(request.lastAcceptStatus)))")
            }
            // libfcgi closed it unless nginx asked to keep it (or it was never read).
            let open = request.releaseConnection()
            if open < 0 || !accepted {
                if open >= 0 { close(open) }
                kept.removed(fd)
            }
        }
    }

    /// What is buffered on `fd`; nil when nothing is (a wake-up with no bytes).
    private mutating func peek(_ fd: Int32) -> KeptConnections.Peek? {
        peekBuffer.withUnsafeMutableBytes { buffer -> KeptConnections.Peek? in
            do throws(SyscallError) {
                let count = try syscall("recv") { recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_PEEK | MSG_DONTWAIT)) }
                return count == 0 ? .closed : FastCGIRequestScan.scan(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            } catch {
                return error.errno == EAGAIN || error.errno == EWOULDBLOCK ? nil : .closed
            }
        }
    }

    /// Takes one connection from the listening socket, first closing an idle kept connection
    /// if every slot is taken. Returns the new connection, -1 when there was none to take (or
    /// no room), nil when the worker must stop (`accept` failed for good).
    private mutating func acceptConnection(_ kept: inout KeptConnections) -> Int32? {
        // A new connection while every slot is taken means nginx's pool is larger than this
        // server's slots (or it is overloaded): it must not wait in the backlog behind idle kept
        // connections, so the least recently used idle one makes room. "Idle" is checked one
        // syscall before close(): a connection with unread bytes carries a request nginx has
        // sent, and closing it would lose that request (issue 12). A request written in the
        // window between that check and close() still meets a closed connection: the window is
        // one syscall long instead of a whole turn of the loop, and nginx retries a request
        // that failed on a cached connection on another one (without counting it as a try).
        switch kept.makeRoom(hasUnreadInput: hasUnreadInput) {
        case .free:
            break
        case .evicted(let victim):
            close(victim)
            slot?.count(.connectionsEvicted)
        case .none:
            return -1  // every kept connection has input: serve those first
        }
        let fd: Int32
        do throws(SyscallError) {
            // No SOCK_CLOEXEC needed (accept4 is not visible to Swift): a worker never execs.
            fd = try syscall("accept") { accept(configuration.listeningSocket, nil, nil) }
        } catch {
            switch error.errno {
            case EAGAIN, EWOULDBLOCK, ECONNABORTED, EPROTO:
                return -1  // another worker was faster, or the peer already gave up
            default:
                logger.error("worker stopping: \(error)")
                return nil
            }
        }
        var send = Self.sendTimeout, receive = Self.receiveTimeout
        let length = socklen_t(MemoryLayout<timeval>.size)
        do {
            try syscall("setsockopt(SO_SNDTIMEO)") { setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send, length) }
            try syscall("setsockopt(SO_RCVTIMEO)") { setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receive, length) }
        } catch {
            logger.error("closing a new FastCGI connection: \(error)")
            close(fd)
            return -1
        }
        // What libfcgi's own accept did for TCP; fails harmlessly on a unix socket.
        var on: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        kept.accepted(fd, quietSince: listenerQuietSince)
        slot?.count(.connectionsAccepted)
        return fd
    }

    /// True when `fd` has bytes nobody has read yet (or its peer has closed it: nothing to lose).
    private func hasUnreadInput(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return (try? syscall("recv") { recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) }).map { $0 > 0 } ?? false
    }
}
