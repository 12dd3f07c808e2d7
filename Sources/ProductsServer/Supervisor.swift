#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The master's process-control decisions, as a plain value: feed it an ``Event``, carry out the
/// ``Action``s it returns. It never touches a process, a clock or a signal itself, so every policy
/// below is unit-tested without any (the hummingbird state-machine pattern; the policies are
/// php-fpm's: reap and respawn, back off on crash loops, graceful stop escalating to SIGKILL).
///
/// - Workers belong to a *generation*. Only the current generation is kept at
///   ``Configuration/workers``; a reload starts a new generation, and the old one is retired
///   (graceful stop) only once every new worker has stayed up for ``Configuration/reloadWarmup``.
///   If the new generation cannot come up, the old one keeps serving: never zero workers.
/// - A worker that exits without being asked to is respawned at once, unless more than
///   ``Backoff/tolerated`` have done so within ``Backoff/window``: then respawns wait
///   ``Backoff/initialDelay``, doubling on each further round up to ``Backoff/maxDelay``, until
///   the respawned workers survive a whole window.
/// - Graceful stop sends ``Configuration/stopSignal`` and escalates to SIGKILL after
///   ``Configuration/gracefulTimeout``; nothing is respawned while stopping; the master exits once
///   every worker has been reaped.
public struct Supervisor: Sendable {
    public typealias Instant = ContinuousClock.Instant
    public typealias PID = Int32

    public struct Backoff: Sendable, Equatable {
        /// Unexpected worker exits accepted per ``window`` before respawns are delayed.
        public var tolerated: Int
        public var window: Duration
        public var initialDelay: Duration
        public var maxDelay: Duration

        /// A whole generation dying once (a bad deploy, a dropped database) is respawned at once;
        /// the second time round, backoff starts. At least 3, so that one or two workers may
        /// each die once without a delay.
        public static func defaultTolerated(workers: Int) -> Int { max(workers, 3) }
        public static let defaultWindow: Duration = .seconds(10)
        public static let defaultInitialDelay: Duration = .seconds(1)
        public static let defaultMaxDelay: Duration = .seconds(30)

        public init(tolerated: Int, window: Duration = Backoff.defaultWindow,
                    initialDelay: Duration = Backoff.defaultInitialDelay, maxDelay: Duration = Backoff.defaultMaxDelay) {
            self.tolerated = tolerated
            self.window = window
            self.initialDelay = initialDelay
            self.maxDelay = maxDelay
        }
    }

    public struct Configuration: Sendable, Equatable {
        /// Workers in the current generation.
        public var workers: Int
        /// How long a worker may take to finish its in-flight request after ``stopSignal``.
        public var gracefulTimeout: Duration
        /// What a new generation's workers must survive before the old generation is retired.
        public var reloadWarmup: Duration
        /// How long to wait for a SIGKILLed worker to be reaped before giving up on it
        /// (a process stuck in uninterruptible sleep).
        public var killTimeout: Duration
        /// libfcgi workers treat SIGTERM (and SIGUSR1) as "finish this request, then exit".
        public var stopSignal: Int32
        public var backoff: Backoff

        public static let defaultReloadWarmup: Duration = .seconds(1)
        public static let defaultKillTimeout: Duration = .seconds(5)

        public init(workers: Int, gracefulTimeout: Duration = .seconds(10),
                    reloadWarmup: Duration = Configuration.defaultReloadWarmup, killTimeout: Duration = Configuration.defaultKillTimeout,
                    stopSignal: Int32 = SIGTERM, backoff: Backoff? = nil) {
            self.workers = workers
            self.gracefulTimeout = gracefulTimeout
            self.reloadWarmup = reloadWarmup
            self.killTimeout = killTimeout
            self.stopSignal = stopSignal
            self.backoff = backoff ?? Backoff(tolerated: Backoff.defaultTolerated(workers: workers))
        }
    }

    /// What an operator's signal asks for (see ``SignalPolicy`` for which signal is which).
    public enum Command: Sendable, Equatable {
        /// Finish in-flight requests, then exit.
        case terminate
        /// Kill every worker now, then exit.
        case quit
        /// Replace every worker, new generation first.
        case reload
    }

    /// How a child ended, decoded from `waitpid`'s status.
    public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        public init(waitStatus status: Int32) {
            // WIFEXITED / WEXITSTATUS / WTERMSIG are C macros, not visible to Swift.
            let signal = status & 0x7f
            self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
        }

        public var description: String {
            switch self {
            case .exited(let code): "exit status \(code)"
            case .signaled(let signal): "killed by \(signalName(signal))"
            }
        }
    }

    public enum Event: Sendable, Equatable {
        /// The listening socket is bound: start the first generation.
        case start(now: Instant)
        /// A `.spawn` produced this worker.
        case spawned(PID, now: Instant)
        /// A `.spawn` could not start a worker (`posix_spawn` failed).
        case spawnFailed(now: Instant)
        /// `waitpid` reaped a child.
        case workerExited(PID, ExitStatus, now: Instant)
        case signal(Command, now: Instant)
        /// The timer from the last `.scheduleTimer` fired (early or spurious ticks are harmless).
        case tick(now: Instant)

        var now: Instant {
            switch self {
            case .start(let now), .spawned(_, let now), .spawnFailed(let now),
                 .workerExited(_, _, let now), .signal(_, let now), .tick(let now):
                now
            }
        }
    }

    public enum Action: Sendable, Equatable {
        /// Start this many workers; report each as `.spawned` or `.spawnFailed`, in order.
        case spawn(count: Int)
        /// Send `signal` to each pid (the graceful stop).
        case signal([PID], Int32)
        /// SIGKILL each pid.
        case kill([PID])
        /// Deliver `.tick` at this instant; replaces any earlier timer.
        case scheduleTimer(at: Instant)
        case cancelTimer
        /// Clean up (socket file, pid file) and exit with this status.
        case exit(code: Int32)
        /// A lifecycle event worth one log line.
        case log(Notice)
    }

    /// The lifecycle events the master logs, as decided here.
    public enum Notice: Sendable, Equatable {
        case started(workers: Int)
        case workerStarted(PID, generation: Int)
        /// `expected` is false for a crash (or any exit nobody asked for).
        case workerExited(PID, ExitStatus, expected: Bool)
        /// A child that was never ours (or already given up on) was reaped.
        case unknownChildExited(PID, ExitStatus)
        /// Crash loop: `count` respawns wait `delay`.
        case respawnDelayed(count: Int, delay: Duration, recentExits: Int)
        case reloading(generation: Int)
        /// The new generation is up; the old one is being stopped gracefully.
        case generationReady(generation: Int, retiring: [PID])
        case stopping(graceful: Bool, workers: Int)
        case gracefulTimeoutExceeded(killing: [PID])
        /// A SIGKILLed worker was not reaped within the kill timeout.
        case abandoned(PID)
        case commandIgnored(Command, reason: String)
        case exiting(code: Int32)
    }

    private enum Phase: Equatable {
        case idle
        case running
        case stopping(immediate: Bool)
        case exited
    }

    private enum WorkerState: Equatable {
        case running
        /// Asked to stop; SIGKILL at `deadline`.
        case stopping(deadline: Instant)
        /// SIGKILLed; given up on at `deadline`.
        case killed(deadline: Instant)
    }

    private struct Worker {
        let generation: Int
        let spawnedAt: Instant
        var state: WorkerState
    }

    public let configuration: Configuration
    private var phase: Phase = .idle
    private var generation = 0
    private var workers: [PID: Worker] = [:]
    private var pendingSpawns = 0
    private var lastSpawnRound: Instant?
    private var respawnAt: Instant?
    private var backoffDelay: Duration?
    private var recentUnexpectedExits: [Instant] = []
    private var abandonedAny = false
    private var scheduledTimer: Instant?

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Pids of every worker not yet reaped (any generation, any state), sorted.
    public var workerPIDs: [PID] { workers.keys.sorted() }
    /// The current generation: 0 at start, +1 per reload.
    public var currentGeneration: Int { generation }
    public var isStopping: Bool { if case .stopping = phase { true } else { false } }

    public mutating func handle(_ event: Event) -> [Action] {
        guard phase != .exited else { return [] }
        var actions: [Action] = []
        let now = event.now

        switch event {
        case .start:
            guard phase == .idle else { break }
            phase = .running
            actions.append(.log(.started(workers: configuration.workers)))

        case .spawned(let pid, _):
            pendingSpawns = max(0, pendingSpawns - 1)
            if isStopping {
                // Spawned while a stop was being decided: stop it straight away.
                workers[pid] = Worker(generation: generation, spawnedAt: now,
                                      state: .stopping(deadline: now + configuration.gracefulTimeout))
                actions.append(.log(.workerStarted(pid, generation: generation)))
                actions.append(.signal([pid], configuration.stopSignal))
            } else {
                workers[pid] = Worker(generation: generation, spawnedAt: now, state: .running)
                actions.append(.log(.workerStarted(pid, generation: generation)))
            }

        case .spawnFailed:
            pendingSpawns = max(0, pendingSpawns - 1)
            // Never retry synchronously: a failing posix_spawn would spin.
            if phase == .running { recordUnexpectedExit(now: now, forceBackoff: true, &actions) }

        case .workerExited(let pid, let status, _):
            guard let worker = workers.removeValue(forKey: pid) else {
                actions.append(.log(.unknownChildExited(pid, status)))
                break
            }
            let expected = worker.state != .running
            actions.append(.log(.workerExited(pid, status, expected: expected)))
            if !expected && phase == .running {
                recordUnexpectedExit(now: now, forceBackoff: false, &actions)
            }

        case .signal(let command, _):
            handle(command, now: now, &actions)

        case .tick:
            break
        }

        reconcile(now: now, &actions)
        updateTimer(now: now, &actions)
        return actions
    }

    // MARK: - Decisions

    private mutating func handle(_ command: Command, now: Instant, _ actions: inout [Action]) {
        switch (command, phase) {
        case (_, .exited):
            return
        case (.reload, .idle):
            actions.append(.log(.commandIgnored(.reload, reason: "not started")))
        case (.reload, .stopping):
            actions.append(.log(.commandIgnored(.reload, reason: "stopping")))
        case (.reload, .running):
            generation += 1
            // The operator stepped in (new database, new settings): respawn at full speed.
            respawnAt = nil
            backoffDelay = nil
            recentUnexpectedExits = []
            actions.append(.log(.reloading(generation: generation)))
        case (.terminate, .stopping):
            actions.append(.log(.commandIgnored(.terminate, reason: "already stopping")))
        case (.terminate, .idle), (.terminate, .running):
            phase = .stopping(immediate: false)
            respawnAt = nil
            let running = pids(where: { $0.state == .running })
            actions.append(.log(.stopping(graceful: true, workers: workers.count)))
            let deadline = now + configuration.gracefulTimeout
            for pid in running { workers[pid]?.state = .stopping(deadline: deadline) }
            if !running.isEmpty { actions.append(.signal(running, configuration.stopSignal)) }
        case (.quit, .stopping(immediate: true)):
            actions.append(.log(.commandIgnored(.quit, reason: "already stopping")))
        case (.quit, _):
            phase = .stopping(immediate: true)
            respawnAt = nil
            actions.append(.log(.stopping(graceful: false, workers: workers.count)))
            kill(pids(where: { if case .killed = $0.state { false } else { true } }), now: now, &actions)
        }
    }

    private mutating func recordUnexpectedExit(now: Instant, forceBackoff: Bool, _ actions: inout [Action]) {
        let policy = configuration.backoff
        // Workers respawned after the last delay survived a whole window: the loop is over.
        if backoffDelay != nil, let last = lastSpawnRound, now - last >= policy.window {
            backoffDelay = nil
            recentUnexpectedExits = []
        }
        recentUnexpectedExits.removeAll { now - $0 >= policy.window }
        recentUnexpectedExits.append(now)
        let crashLooping = forceBackoff || backoffDelay != nil || recentUnexpectedExits.count > policy.tolerated
        guard crashLooping, respawnAt == nil else { return }
        let delay = backoffDelay.map { min($0 * 2, policy.maxDelay) } ?? min(policy.initialDelay, policy.maxDelay)
        backoffDelay = delay
        respawnAt = now + delay
        actions.append(.log(.respawnDelayed(count: deficit, delay: delay, recentExits: recentUnexpectedExits.count)))
    }

    /// Brings the world toward the desired state at `now`: escalate overdue stops, spawn
    /// missing workers, retire an old generation once the new one is up, exit when empty.
    private mutating func reconcile(now: Instant, _ actions: inout [Action]) {
        let overdue = pids(where: { if case .stopping(let deadline) = $0.state { deadline <= now } else { false } })
        if !overdue.isEmpty {
            actions.append(.log(.gracefulTimeoutExceeded(killing: overdue)))
            kill(overdue, now: now, &actions)
        }
        for pid in pids(where: { if case .killed(let deadline) = $0.state { deadline <= now } else { false } }) {
            workers[pid] = nil
            abandonedAny = true
            actions.append(.log(.abandoned(pid)))
        }

        switch phase {
        case .running:
            if let at = respawnAt, at <= now { respawnAt = nil }
            let missing = deficit
            if missing > 0 && respawnAt == nil {
                pendingSpawns += missing
                lastSpawnRound = now
                actions.append(.spawn(count: missing))
            }
            retireOldGenerationIfReady(now: now, &actions)
        case .stopping:
            if workers.isEmpty && pendingSpawns == 0 {
                let code: Int32 = abandonedAny ? 1 : 0
                phase = .exited
                actions.append(.log(.exiting(code: code)))
                actions.append(.exit(code: code))
            }
        case .idle, .exited:
            break
        }
    }

    private mutating func retireOldGenerationIfReady(now: Instant, _ actions: inout [Action]) {
        let old = pids(where: { $0.generation < generation && $0.state == .running })
        guard !old.isEmpty, let readyAt = currentGenerationReadyAt, readyAt <= now else { return }
        let deadline = now + configuration.gracefulTimeout
        for pid in old { workers[pid]?.state = .stopping(deadline: deadline) }
        actions.append(.log(.generationReady(generation: generation, retiring: old)))
        actions.append(.signal(old, configuration.stopSignal))
    }

    private mutating func kill(_ targets: [PID], now: Instant, _ actions: inout [Action]) {
        guard !targets.isEmpty else { return }
        let deadline = now + configuration.killTimeout
        for pid in targets { workers[pid]?.state = .killed(deadline: deadline) }
        actions.append(.kill(targets))
    }

    private mutating func updateTimer(now: Instant, _ actions: inout [Action]) {
        var deadlines: [Instant] = []
        if let respawnAt { deadlines.append(respawnAt) }
        if phase == .running, !pids(where: { $0.generation < generation && $0.state == .running }).isEmpty,
           let readyAt = currentGenerationReadyAt {
            deadlines.append(readyAt)
        }
        for worker in workers.values {
            switch worker.state {
            case .running: break
            case .stopping(let deadline), .killed(let deadline): deadlines.append(deadline)
            }
        }
        let next = deadlines.min()
        guard next != scheduledTimer else { return }
        scheduledTimer = next
        actions.append(next.map { .scheduleTimer(at: $0) } ?? .cancelTimer)
    }

    // MARK: - Derived state

    /// Workers the current generation lacks (running or being spawned count as present).
    private var deficit: Int {
        let present = workers.values.filter { $0.generation == generation && $0.state == .running }.count
        return max(0, configuration.workers - present - pendingSpawns)
    }

    /// When the whole current generation will have survived the warm-up; nil while incomplete.
    private var currentGenerationReadyAt: Instant? {
        let current = workers.values.filter { $0.generation == generation && $0.state == .running }
        guard current.count >= configuration.workers, let newest = current.map(\.spawnedAt).max() else { return nil }
        return newest + configuration.reloadWarmup
    }

    private func pids(where predicate: (Worker) -> Bool) -> [PID] {
        workers.filter { predicate($0.value) }.keys.sorted()
    }
}
