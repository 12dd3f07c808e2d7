import SystemCalls
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging

/// The master process: binds the socket once, then runs ``Supervisor``'s decisions against real
/// processes. This is only the I/O shell: it turns signals, reaped children and timer expiry into
/// events, and carries out the actions; every decision is in ``Supervisor``.
///
/// Single-threaded: signal handlers only write to a self-pipe (``SignalPipe``), and the loop
/// blocks in `poll(2)` on it with the supervisor's next deadline as the timeout.
public final class Master {
    private let configuration: ServerConfiguration
    private let signalPolicy: SignalPolicy
    private var logger: Logger
    private let clock = ContinuousClock()
    private var supervisor: Supervisor
    private var timer: Supervisor.Instant?
    private var exitCode: Int32?
    /// The workers' shared counters (`/_status`); nil with `--no-status`.
    private var scoreboard: Scoreboard?

    public init(configuration: ServerConfiguration, signalPolicy: SignalPolicy = SignalPolicy(), logger: Logger) {
        self.configuration = configuration
        self.signalPolicy = signalPolicy
        self.logger = logger
        self.supervisor = Supervisor(configuration: configuration.supervisor)
    }

    /// Runs until the workers are stopped; returns the exit status. Throws only for start-up
    /// failures (the socket cannot be bound, the pid file cannot be written, ...).
    public func run() throws -> Int32 {
        // Handlers first: no SIGCHLD may be lost, and a SIGTERM during start-up must count.
        let signals = try SignalPipe(catching: signalPolicy.caught)
        // Runs last: the handlers stay installed until the socket and pid files are gone, so a
        // late SIGTERM cannot kill the master half-way through its clean-up.
        defer { withExtendedLifetime(signals) {} }
        // A write to a socket nginx closed must fail with EPIPE, not kill the master.
        signal(SIGPIPE, SIG_IGN)

        let listener = try Listener(address: configuration.listen, socketMode: configuration.socketMode,
                                    socketGroup: configuration.socketGroup, backlog: configuration.backlog)
        defer { listener.removeSocketFile() }
        logger.info("listening", metadata: [
            "address": "\(configuration.listen)",
            "mode": "\(String(configuration.socketMode, radix: 8))",
            "group": "\(configuration.socketGroup ?? "-")",
            "backlog": "\(configuration.backlog)",
        ])
        if !listener.isLoopback {
            logger.warning("FastCGI socket is not on loopback: libfcgi must never face a public network (CVE-2025-23016); prefer a unix socket",
                           metadata: ["address": "\(configuration.listen)"])
        }

        if let pidFile = configuration.pidFile { try writePIDFile(pidFile) }
        defer { if let pidFile = configuration.pidFile { unlink(pidFile) } }

        // Root was needed for the above only (a socket in /run, chown to nginx's group). The
        // socket and pid files are removed at exit as this user: their directory must be
        // writable for it (systemd's RuntimeDirectory=, or a stale socket is replaced next start).
        if let account = configuration.runAs {
            try Privileges.drop(to: account)
            logger.info("dropped privileges", metadata: ["user": "\(account.name)", "uid": "\(account.uid)", "gid": "\(account.gid)"])
        }

        var workerArguments = [CommandLine.arguments.first ?? "products-server"] + configuration.workerArguments
        if configuration.scoreboard {
            let workers = configuration.workers
            scoreboard = try Scoreboard.create(slots: Scoreboard.slots(forWorkers: workers), configuredWorkers: workers)
            workerArguments += ["--scoreboard-fd", String(Scoreboard.workerDescriptor)]
        }
        let spawner = try WorkerSpawner(listeningSocket: listener.fileDescriptor, scoreboard: scoreboard?.fileDescriptor,
                                        arguments: workerArguments, environment: configuration.workerEnvironment)

        process(.start(now: clock.now), spawner)
        while exitCode == nil {
            try waitForSignalOrTimer(signals)
            // Drain before reaping: an exit after the drain writes a fresh byte, so none is missed.
            // Commands before reaping: when a Ctrl-C or systemd's SIGTERM reaches the workers
            // too, their exits then count as the stop they are, not as crashes to respawn.
            for signal in signals.drain() where signal != SIGCHLD {
                guard let command = signalPolicy.command(for: signal) else { continue }
                logger.info("received \(signalName(signal))", metadata: ["command": "\(command)"])
                process(.signal(command, now: clock.now), spawner)
            }
            reapChildren(spawner)
            if let timer, clock.now >= timer {
                self.timer = nil
                process(.tick(now: clock.now), spawner)
            }
        }
        return exitCode ?? 0
    }

    // MARK: - Events in

    private func waitForSignalOrTimer(_ signals: SignalPipe) throws {
        var descriptor = pollfd(fd: signals.readEnd, events: Int16(POLLIN), revents: 0)
        var timeout: Int32 = -1
        if let timer {
            let remaining = clock.now.duration(to: timer)
            timeout = remaining <= .zero ? 0 : Int32(clamping: milliseconds(roundingUp: remaining))
        }
        try syscall("poll") { poll(&descriptor, 1, timeout) }
    }

    /// `waitpid(-1, WNOHANG)` until nothing is left to reap: one SIGCHLD may stand for several
    /// exits, and a wake-up for any other reason costs one call.
    private func reapChildren(_ spawner: WorkerSpawner) {
        while true {
            var status: Int32 = 0
            let pid: pid_t
            do {
                pid = try syscall("waitpid") { waitpid(-1, &status, WNOHANG) }
            } catch {
                if error.errno != ECHILD { logger.error("\(error)") }
                return
            }
            guard pid > 0 else { return }
            scoreboard?.release(pid: pid)
            process(.workerExited(pid, Supervisor.ExitStatus(waitStatus: status), now: clock.now), spawner)
        }
    }

    // MARK: - Actions out

    /// Feeds one event and carries out the resulting actions; a spawn's outcome is fed back
    /// as its own event before anything else happens.
    private func process(_ event: Supervisor.Event, _ spawner: WorkerSpawner) {
        var events = [event]
        while !events.isEmpty {
            for action in supervisor.handle(events.removeFirst()) {
                switch action {
                case .spawn(let count):
                    for _ in 0..<count { events.append(spawnWorker(spawner)) }
                case .signal(let pids, let signal):
                    send(signal, to: pids)
                case .kill(let pids):
                    send(SIGKILL, to: pids)
                case .scheduleTimer(let at):
                    timer = at
                case .cancelTimer:
                    timer = nil
                case .exit(let code):
                    exitCode = code
                case .log(let notice):
                    log(notice)
                }
            }
        }
    }

    private func spawnWorker(_ spawner: WorkerSpawner) -> Supervisor.Event {
        do {
            let pid = try spawner.spawn()
            scoreboard?.workerStarted()
            return .spawned(pid, now: clock.now)
        } catch {
            logger.error("could not start a worker: \(error)")
            return .spawnFailed(now: clock.now)
        }
    }

    private func send(_ signal: Int32, to pids: [Supervisor.PID]) {
        for pid in pids {
            do {
                try syscall("kill(\(pid), \(signalName(signal)))") { kill(pid, signal) }
            } catch {
                // ESRCH cannot happen for an unreaped child; anything else is worth a line.
                logger.error("\(error)")
            }
        }
    }

    private func log(_ notice: Supervisor.Notice) {
        switch notice {
        case .started(let workers):
            logger.info("starting workers", metadata: ["workers": "\(workers)"])
        case .workerStarted(let pid, let generation):
            logger.info("worker started", metadata: ["worker": "\(pid)", "generation": "\(generation)"])
        case .workerExited(let pid, let status, expected: true):
            logger.info("worker stopped", metadata: ["worker": "\(pid)", "status": "\(status)"])
        case .workerExited(let pid, let status, expected: false):
            scoreboard?.workerExitedUnexpectedly()
            logger.error("worker exited unexpectedly", metadata: ["worker": "\(pid)", "status": "\(status)"])
        case .unknownChildExited(let pid, let status):
            logger.notice("reaped an unknown child", metadata: ["pid": "\(pid)", "status": "\(status)"])
        case .respawnDelayed(let count, let delay, let recentExits):
            logger.warning("workers are crash-looping: delaying respawn", metadata: [
                "missing": "\(count)", "delay": "\(delay)", "recent_exits": "\(recentExits)",
            ])
        case .reloading(let generation):
            scoreboard?.reloadStarted()
            logger.info("reload: starting a new generation", metadata: ["generation": "\(generation)"])
        case .generationReady(let generation, let retiring):
            logger.info("reload: new generation is up, retiring the old one", metadata: [
                "generation": "\(generation)", "retiring": "\(retiring)",
            ])
        case .stopping(let graceful, let workers):
            logger.info(graceful ? "stopping gracefully" : "stopping now", metadata: [
                "workers": "\(workers)",
                "timeout": "\(graceful ? "\(configuration.gracefulTimeout)" : "none")",
            ])
        case .gracefulTimeoutExceeded(let pids):
            logger.warning("graceful timeout exceeded: killing", metadata: ["workers": "\(pids)"])
        case .abandoned(let pid):
            logger.error("killed worker was not reaped in time; giving up on it", metadata: ["worker": "\(pid)"])
        case .commandIgnored(let command, let reason):
            logger.notice("ignoring \(command)", metadata: ["reason": "\(reason)"])
        case .exiting(let code):
            logger.info("all workers stopped; exiting", metadata: ["status": "\(code)"])
        }
    }

    // MARK: - Helpers

    private func writePIDFile(_ path: String) throws {
        let fd = try syscall("open(\(path))") { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        defer { close(fd) }
        let text = Array("\(getpid())\n".utf8)
        try text.withUnsafeBytes { bytes in
            _ = try syscall("write(\(path))") { write(fd, bytes.baseAddress, bytes.count) }
        }
    }
}

func milliseconds(roundingUp duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    let perMillisecond: Int64 = 1_000_000_000_000_000
    return seconds * 1000 + (attoseconds + perMillisecond - 1) / perMillisecond
}
