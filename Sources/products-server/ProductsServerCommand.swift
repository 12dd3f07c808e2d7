import ArgumentParser
import Logging
import ProductsServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@main
struct ProductsServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "products-server",
        abstract: "Prefork FastCGI server for the Products API (nginx in front, PostgreSQL behind).",
        discussion: """
        A master process binds the listening socket once and starts --workers worker
        processes (this binary again, with --worker, the socket on fd 0). Each worker
        serves one request at a time on its own PostgreSQL connection. The master never
        serves requests: it reaps and respawns workers that die. A crash loop (more
        than --crash-tolerance unexpected exits within --crash-window) delays respawns
        by --respawn-delay, doubling up to --max-respawn-delay.

        SIGNALS (to the master)
          SIGTERM, SIGINT  Graceful stop: workers get SIGTERM and finish the request in
                           flight; those still running after --graceful-timeout are
                           SIGKILLed. The socket file is removed; exit status 0.
          SIGQUIT          Immediate stop: SIGKILL every worker, remove the socket
                           file, exit status 0.
          SIGHUP           Graceful reload: start a whole new generation of workers
                           (new processes, new database connections: after a
                           failover, or an ALTER ROLE ... SET); once each new worker
                           has stayed up for --reload-warmup, the old ones stop gracefully. If
                           the new generation cannot stay up, the old one keeps
                           serving. The binary is not re-read: restart the service
                           to upgrade it.

        SECURITY
          Started as root, the master binds the socket, then runs as --user (required:
          it refuses to run as root), and so do its workers. Keep the FastCGI socket private: a unix socket for nginx's group only
          (--socket-mode 0660 --socket-group www-data). Debian 12's libfcgi has only
          part of the fix for CVE-2025-23016: a TCP --listen must never face a public
          interface. Give a conninfo with a password through PRODUCTS_DATABASE, not
          --database: command lines are visible to every local user. Workers get it
          through their environment, never their command line.

        EXAMPLES
          products-server --listen /run/products/fcgi.sock --socket-group www-data --user products
          products-server --listen systemd    (ExecStart= of a socket-activated unit)
          PRODUCTS_DATABASE='host=/run/postgresql dbname=products user=products_api' \\
            products-server --workers 8 --listen 127.0.0.1:9000
        """
    )

    @Option(help: ArgumentHelp(
        "Worker processes (default: \(ServerConfiguration.workersPerCPU) per usable CPU, \(ServerConfiguration.defaultWorkerCount()) here).",
        discussion: "Usable CPUs: online, within the affinity mask and any cgroup CPU quota. Each worker handles one request at a time and holds one PostgreSQL connection, and spends much of a request waiting on PostgreSQL or nginx, hence several per CPU; nginx and PostgreSQL share these CPUs, hence only a few. nginx's FastCGI keep-alive pool (upstream keepalive × nginx workers) must not exceed workers × --kept-connections.",
        valueName: "n"))
    var workers: Int?

    @Option(help: ArgumentHelp(
        "Where to listen: a unix socket path (/run/products/fcgi.sock or unix:/path), host:port for TCP, or `systemd`.",
        discussion: "TCP is for loopback or a private network only: libfcgi must never face a public interface (CVE-2025-23016). A leftover socket file is replaced only if nothing listens on it. `systemd`: socket activation, the one socket systemd passes as fd 3 (LISTEN_FDS=1 for this pid); its .socket unit owns the path, mode, group and backlog (--socket-mode/--socket-group are ignored), and it keeps listening while the service restarts, so an upgrade queues connections instead of refusing them.",
        valueName: "address"))
    var listen: String?

    @Option(help: ArgumentHelp(
        "libpq conninfo or postgresql:// URI (default: $PRODUCTS_DATABASE, else dbname=products).",
        valueName: "conninfo"))
    var database: String?

    @Option(help: ArgumentHelp("Octal permissions of the unix socket file.", valueName: "mode"))
    var socketMode: String = "0660"

    @Option(help: ArgumentHelp("Group to own the unix socket file: nginx's (e.g. www-data).", valueName: "group"))
    var socketGroup: String?

    @Option(help: ArgumentHelp(
        "User to run as once the socket is bound (required when started as root).",
        discussion: "The master binds the socket (and chowns it to --socket-group) as root, then switches to this user (its supplementary groups, then group, then user) before starting any worker. Started as root without --user it refuses to start. Not root: only your own user is accepted. The socket's and the pid file's directory should be writable by this user, so it can remove them at exit.",
        valueName: "name"))
    var user: String?

    @Option(help: ArgumentHelp("Group to run as with --user (default: the user's primary group).", valueName: "name"))
    var group: String?

    @Option(help: ArgumentHelp("Seconds a stopping worker may take to finish its request before SIGKILL.", valueName: "seconds"))
    var gracefulTimeout: Double = 10

    @Option(help: ArgumentHelp("Seconds each worker of a reload's new generation must stay up before the old one stops.", valueName: "seconds"))
    var reloadWarmup: Double = seconds(Supervisor.Configuration.defaultReloadWarmup)

    @Option(help: ArgumentHelp("Seconds to wait for a SIGKILLed worker to be reaped before giving up on it (a process stuck in the kernel).", valueName: "seconds"))
    var killTimeout: Double = seconds(Supervisor.Configuration.defaultKillTimeout)

    @Option(help: ArgumentHelp(
        "Unexpected worker exits tolerated within --crash-window before respawns are delayed (default: the worker count, at least 3).",
        discussion: "So that a whole generation dying once (a dropped database, a bad deploy) is respawned at once, and a second wave is not.",
        valueName: "n"))
    var crashTolerance: Int?

    @Option(help: ArgumentHelp("Seconds over which unexpected exits are counted for --crash-tolerance.", valueName: "seconds"))
    var crashWindow: Double = seconds(Supervisor.Backoff.defaultWindow)

    @Option(help: ArgumentHelp("First delay of respawns in a crash loop, seconds; it doubles while the loop goes on.", valueName: "seconds"))
    var respawnDelay: Double = seconds(Supervisor.Backoff.defaultInitialDelay)

    @Option(help: ArgumentHelp("Longest delay of respawns in a crash loop, seconds.", valueName: "seconds"))
    var maxRespawnDelay: Double = seconds(Supervisor.Backoff.defaultMaxDelay)

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical. Logs go to stderr.", valueName: "level"))
    var logLevel: String = "info"

    @Option(help: ArgumentHelp("Write the master's pid here (removed on exit).", valueName: "path"))
    var pidFile: String?

    @Option(help: ArgumentHelp(
        "FastCGI connections each worker keeps open for nginx (fastcgi_keep_conn on). 0: one connection at a time.",
        discussion: "A worker polls the listening socket and up to N kept connections together and serves whichever has a whole request buffered, so neither a kept connection nor a slow sender parks the worker (a request still incomplete after 1 s is dropped). Size nginx's upstream keepalive (per nginx worker) times nginx's workers at most workers x N (the shipped nginx keeps up to 1024 per nginx worker; 256 here x 8 workers on 2 CPUs holds 2 nginx workers' pools); beyond that a worker closes its least recently used kept connection to take a new one. Polling 256 descriptors costs a worker little: it serves every ready one per turn. Measured in docs/performance.md (\"Real traffic\").",
        valueName: "n"))
    var keptConnections: Int = 256

    @Option(help: ArgumentHelp(
        "Seconds each worker uses a database connection before it connects again (0: as long as it works).",
        discussion: "For a multi-host conninfo (host=replica,primary target_session_attrs=prefer-standby): libpq picks a host only when it connects, so a worker that moved to the primary while the replica was away, or after a recovery conflict, comes back to the replica within this time. Each worker's lifetime is up to a fifth shorter at random, so the pool reconnects gradually. The reconnect happens between two requests and costs one connection and its prepared statements (a few ms).",
        valueName: "seconds"))
    var databaseLifetime: Double = 0

    @Option(help: ArgumentHelp(
        "Answer 503 at once, without a query, to catalog requests that waited longer than this, once every request a worker read for 200 ms did (seconds; 0: never).",
        discussion: "The wait is from nginx handing the request upstream (REQUEST_START, nginx's $msec) to a worker reading it, but at most since that worker last saw nothing to read on the request's connection (or to accept, for a new one): time spent queued here while every worker was busy. So the requests nginx retries on another app host when one went away (they keep their first REQUEST_START) are served when they did not queue here, and a lone late request is served; a standing queue of them is not. Past capacity, serving such a request only makes the next ones wait longer (its client has used most of its patience); refusing it costs microseconds, so the queue drains and the requests that are served stay within their clients' timeouts (nginx adds Retry-After, or serves the expired cached copy). The hosts' clocks must agree (timesyncd or chrony); when nginx's and this host's differ by more than 10 s the check is skipped and a warning logged. Health checks are never refused. Measured in docs/performance.md (\"Real traffic\").",
        valueName: "seconds"))
    var maxQueueTime: Double = 0.5

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(
        "Count requests in shared memory and answer /_status (text; ?openmetrics for Prometheus).",
        discussion: "The master maps one block of counters per worker (a memfd, passed to each worker as fd 3); a worker updates only its own, without a lock, and whichever worker nginx sends /_status to sums them: workers alive and busy, requests by route and status, a duration histogram, database reconnects, the catalog generation each worker serves, worker restarts, the listen queue. --no-status turns it off (to measure its cost: docs/reliability.md)."))
    var status = true

    @Option(help: ArgumentHelp("Internal: the scoreboard's descriptor in a worker (the master passes it).", valueName: "fd"))
    var scoreboardFd: Int32?

    @Flag(help: ArgumentHelp(
        "Internal: run as one worker, serving FastCGI on the socket at fd 0 (the master passes this).",
        discussion: "Also usable under spawn-fcgi or systemd socket activation with Accept=no and StandardInput=socket."))
    var worker = false

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level \(logLevel): expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (0...1024).contains(keptConnections) else { throw ValidationError("--kept-connections must be 0-1024 (each is a descriptor: keep workers' RLIMIT_NOFILE above it)") }
        if group != nil && user == nil { throw ValidationError("--group needs --user") }
        do { _ = try runAs() } catch { throw ValidationError("\(error)") }
        if worker { return }
        guard let listen else { throw ValidationError("--listen is required, e.g. --listen /run/products/fcgi.sock") }
        do { _ = try ListenAddress(parsing: listen) } catch { throw ValidationError(error.description) }
        do { _ = try ServerConfiguration.parseSocketMode(socketMode) } catch { throw ValidationError(error.description) }
        if let workers, !(1...1024).contains(workers) { throw ValidationError("--workers must be 1-1024") }
        guard gracefulTimeout >= 0, gracefulTimeout.isFinite else { throw ValidationError("--graceful-timeout must be >= 0") }
        for (name, value) in [("--reload-warmup", reloadWarmup), ("--kill-timeout", killTimeout), ("--crash-window", crashWindow),
                              ("--respawn-delay", respawnDelay), ("--max-respawn-delay", maxRespawnDelay)] {
            guard value >= 0, value.isFinite, value <= 86_400 else { throw ValidationError("\(name) must be 0-86400 seconds") }
        }
        guard maxRespawnDelay >= respawnDelay else { throw ValidationError("--max-respawn-delay must be at least --respawn-delay") }
        if let crashTolerance, crashTolerance < 0 { throw ValidationError("--crash-tolerance must be >= 0") }
        guard maxQueueTime >= 0, maxQueueTime <= 60 else { throw ValidationError("--max-queue-time must be 0 (off) to 60 seconds") }
        guard databaseLifetime == 0 || (databaseLifetime >= 1 && databaseLifetime.isFinite) else {
            throw ValidationError("--database-lifetime must be 0 (off) or at least 1 second")
        }
    }

    /// The account to switch to (see ``Privileges/plan(euid:egid:requested:)``). A worker is
    /// never started as root by the master; started as root by hand, it refuses too.
    private func runAs() throws -> Privileges.Account? {
        let requested = try user.map { try Privileges.account(user: $0, group: group) }
        return try Privileges.plan(euid: geteuid(), egid: getegid(), requested: worker ? nil : requested)
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let conninfo = database ?? getenv("PRODUCTS_DATABASE").map { String(cString: $0) } ?? "dbname=products"

        if worker {
            var logger = Logger(label: "products-server.worker")
            logger[metadataKey: "pid"] = "\(getpid())"
            Worker.run(WorkerConfiguration(database: conninfo, applicationName: "products-server",
                                           keptConnections: keptConnections,
                                           databaseLifetime: databaseLifetime > 0 ? .seconds(databaseLifetime) : nil,
                                           scoreboardDescriptor: scoreboardFd,
                                           maxQueueTime: maxQueueTime > 0 ? .milliseconds(Int64(maxQueueTime * 1000)) : nil),
                       logger: logger)
        }

        var logger = Logger(label: "products-server.master")
        logger[metadataKey: "pid"] = "\(getpid())"
        var configuration = ServerConfiguration(
            workers: workers ?? ServerConfiguration.defaultWorkerCount(),
            listen: try ListenAddress(parsing: listen ?? ""),
            socketMode: try ServerConfiguration.parseSocketMode(socketMode),
            socketGroup: socketGroup,
            gracefulTimeout: .seconds(gracefulTimeout),
            pidFile: pidFile,
            workerArguments: ["--worker", "--log-level", logLevel, "--kept-connections", String(keptConnections),
                                "--database-lifetime", String(databaseLifetime), "--max-queue-time", String(maxQueueTime)],
            workerEnvironment: ["PRODUCTS_DATABASE": conninfo],
            runAs: try runAs(),
            scoreboard: status)
        configuration.reloadWarmup = .seconds(reloadWarmup)
        configuration.killTimeout = .seconds(killTimeout)
        configuration.backoff = Supervisor.Backoff(
            tolerated: crashTolerance ?? Supervisor.Backoff.defaultTolerated(workers: configuration.workers),
            window: .seconds(crashWindow), initialDelay: .seconds(respawnDelay), maxDelay: .seconds(maxRespawnDelay))
        let status: Int32
        do {
            status = try Master(configuration: configuration, logger: logger).run()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        if status != 0 { throw ExitCode(status) }
    }
}

/// A Duration as the seconds the command-line options take.
private func seconds(_ duration: Duration) -> Double {
    let (whole, fraction) = duration.components
    return Double(whole) + Double(fraction) / 1e18
}
