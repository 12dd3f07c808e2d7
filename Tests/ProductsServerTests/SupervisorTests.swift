import Testing
@testable import ProductsServer

#if canImport(Glibc)
import Glibc
#endif

// The master's decisions, with no processes: pids are numbers, time is an instant we choose.

private typealias Action = Supervisor.Action
private typealias PID = Supervisor.PID

private let origin = ContinuousClock.now
/// Whole milliseconds, so that `at(a) + .seconds(b) == at(a + b)` exactly.
private func at(_ seconds: Double) -> Supervisor.Instant { origin + .milliseconds(Int64((seconds * 1000).rounded())) }

/// Drives a supervisor like the master does: a `.spawn(n)` is answered with `n` `.spawned`
/// events (fresh pids), whose actions are collected too.
private struct Harness {
    var supervisor: Supervisor
    var nextPID: PID = 100
    /// Every action seen, logs included.
    var log: [Action] = []

    init(workers: Int = 3, gracefulTimeout: Duration = .seconds(10), reloadWarmup: Duration = .seconds(1),
         backoff: Supervisor.Backoff? = nil) {
        supervisor = Supervisor(configuration: .init(workers: workers, gracefulTimeout: gracefulTimeout,
                                                     reloadWarmup: reloadWarmup, backoff: backoff))
    }

    /// Feeds `event`; returns the non-log actions (spawns shown as `.spawn`, their own actions
    /// appended after) and the pids spawned.
    @discardableResult
    mutating func send(_ event: Supervisor.Event, failSpawns: Bool = false) -> (actions: [Action], spawned: [PID]) {
        var pending = [event]
        var actions: [Action] = []
        var spawned: [PID] = []
        while !pending.isEmpty {
            let event = pending.removeFirst()
            for action in supervisor.handle(event) {
                log.append(action)
                if case .log = action { continue }
                actions.append(action)
                if case .spawn(let count) = action {
                    for _ in 0..<count {
                        if failSpawns {
                            pending.append(.spawnFailed(now: now(of: event)))
                        } else {
                            nextPID += 1
                            spawned.append(nextPID)
                            pending.append(.spawned(nextPID, now: now(of: event)))
                        }
                    }
                }
            }
        }
        return (actions, spawned)
    }

    private func now(of event: Supervisor.Event) -> Supervisor.Instant {
        switch event {
        case .start(let now), .spawned(_, let now), .spawnFailed(let now),
             .workerExited(_, _, let now), .signal(_, let now), .tick(let now):
            now
        }
    }

    func notices() -> [Supervisor.Notice] {
        log.compactMap { if case .log(let notice) = $0 { notice } else { nil } }
    }
}

private let crash = Supervisor.ExitStatus.signaled(SIGSEGV)
private let clean = Supervisor.ExitStatus.exited(0)

@Suite struct SupervisorStartTests {
    @Test func startSpawnsTheWholeGeneration() {
        var h = Harness(workers: 3)
        let (actions, spawned) = h.send(.start(now: at(0)))
        #expect(actions == [.spawn(count: 3)])
        #expect(spawned == [101, 102, 103])
        #expect(h.supervisor.workerPIDs == [101, 102, 103])
        #expect(h.notices().contains(.workerStarted(101, generation: 0)))
    }

    @Test func terminateBeforeStartExitsAtOnce() {
        var h = Harness()
        #expect(h.send(.signal(.terminate, now: at(0))).actions == [.exit(code: 0)])
        #expect(h.send(.start(now: at(1))).actions == [])
    }

    @Test func childrenWeNeverStartedAreLoggedNotRespawned() {
        var h = Harness(workers: 1)
        h.send(.start(now: at(0)))
        #expect(h.send(.workerExited(999, clean, now: at(1))).actions == [])
        #expect(h.notices().contains(.unknownChildExited(999, clean)))
    }

    @Test func exitStatusDecodesWaitStatus() {
        #expect(Supervisor.ExitStatus(waitStatus: 0) == .exited(0))
        #expect(Supervisor.ExitStatus(waitStatus: 3 << 8) == .exited(3))
        #expect(Supervisor.ExitStatus(waitStatus: SIGKILL) == .signaled(SIGKILL))
        #expect(Supervisor.ExitStatus(waitStatus: SIGSEGV | 0x80) == .signaled(SIGSEGV))  // core dumped
        #expect(Supervisor.ExitStatus.signaled(SIGKILL).description == "killed by SIGKILL")
    }
}

@Suite struct SupervisorRespawnTests {
    @Test func aWorkerThatDiesIsRespawnedAtOnce() {
        var h = Harness(workers: 3)
        h.send(.start(now: at(0)))
        let (actions, spawned) = h.send(.workerExited(102, crash, now: at(5)))
        #expect(actions == [.spawn(count: 1)])
        #expect(spawned == [104])
        #expect(h.supervisor.workerPIDs == [101, 103, 104])
        #expect(h.notices().contains(.workerExited(102, crash, expected: false)))
        #expect(h.notices().contains(.workerStarted(104, generation: 0)))
    }

    @Test func backoffGrowsExponentiallyUpToTheCapAndResetsAfterAQuietWindow() {
        let policy = Supervisor.Backoff(tolerated: 2, window: .seconds(10), initialDelay: .seconds(1), maxDelay: .seconds(4))
        var h = Harness(workers: 1, backoff: policy)
        var current = h.send(.start(now: at(0))).spawned[0]

        // Within tolerance: immediate respawns.
        for t in [0.1, 0.2] {
            let (actions, spawned) = h.send(.workerExited(current, crash, now: at(t)))
            #expect(actions == [.spawn(count: 1)])
            current = spawned[0]
        }
        // Third exit in the window: delayed by the initial delay.
        #expect(h.send(.workerExited(current, crash, now: at(0.3))).actions == [.scheduleTimer(at: at(1.3))])
        #expect(h.notices().last == .respawnDelayed(count: 1, delay: .seconds(1), recentExits: 3))
        #expect(h.send(.tick(now: at(1.0))).actions == [], "not yet due")
        var (actions, spawned) = h.send(.tick(now: at(1.3)))
        #expect(actions == [.spawn(count: 1), .cancelTimer])
        current = spawned[0]

        // Each further round doubles the delay: 2 s, then 4 s, then stays at the 4 s cap.
        var t = 1.5
        for expected in [2.0, 4.0, 4.0] {
            #expect(h.send(.workerExited(current, crash, now: at(t))).actions == [.scheduleTimer(at: at(t + expected))])
            (actions, spawned) = h.send(.tick(now: at(t + expected)))
            #expect(actions == [.spawn(count: 1), .cancelTimer])
            current = spawned[0]
            t += expected + 0.2
        }

        // The last respawn happened at t - 0.2; it survives a whole window: back to immediate.
        t += 10
        #expect(h.send(.workerExited(current, crash, now: at(t))).actions == [.spawn(count: 1)])
    }

    @Test func exitsWhileARespawnIsDelayedDoNotPushItBack() {
        let policy = Supervisor.Backoff(tolerated: 0, window: .seconds(10), initialDelay: .seconds(1), maxDelay: .seconds(30))
        var h = Harness(workers: 3, backoff: policy)
        h.send(.start(now: at(0)))
        #expect(h.send(.workerExited(101, crash, now: at(1))).actions == [.scheduleTimer(at: at(2))])
        #expect(h.send(.workerExited(102, crash, now: at(1.5))).actions == [])
        #expect(h.notices().last == .workerExited(102, crash, expected: false))
        #expect(h.send(.tick(now: at(2))).actions == [.spawn(count: 2), .cancelTimer])
        #expect(h.supervisor.workerPIDs.count == 3)
    }

    @Test func aFailedSpawnIsRetriedLaterNeverInALoop() {
        var h = Harness(workers: 2)
        let first = h.send(.start(now: at(0)), failSpawns: true)
        // Two spawns failed: one retry timer, no synchronous retry.
        #expect(first.actions == [.spawn(count: 2), .scheduleTimer(at: at(1))])
        #expect(h.supervisor.workerPIDs.isEmpty)
        let retry = h.send(.tick(now: at(1)))
        #expect(retry.actions == [.spawn(count: 2), .cancelTimer])
        #expect(h.supervisor.workerPIDs.count == 2)
    }
}

@Suite struct SupervisorStopTests {
    @Test func gracefulStopSignalsEveryWorkerAndEscalatesToSIGKILLAtTheDeadline() {
        var h = Harness(workers: 3, gracefulTimeout: .seconds(10))
        h.send(.start(now: at(0)))
        #expect(h.send(.signal(.terminate, now: at(5))).actions == [
            .signal([101, 102, 103], SIGTERM), .scheduleTimer(at: at(15)),
        ])
        #expect(h.supervisor.isStopping)
        // A worker finishing its request is not replaced.
        #expect(h.send(.workerExited(101, clean, now: at(6))).actions == [])
        #expect(h.notices().last == .workerExited(101, clean, expected: true))
        #expect(h.send(.tick(now: at(14.9))).actions == [])
        let escalation = h.send(.tick(now: at(15))).actions
        #expect(escalation == [.kill([102, 103]), .scheduleTimer(at: at(20))])
        #expect(h.notices().contains(.gracefulTimeoutExceeded(killing: [102, 103])))
        #expect(h.send(.workerExited(102, .signaled(SIGKILL), now: at(15.1))).actions == [])
        #expect(h.send(.workerExited(103, .signaled(SIGKILL), now: at(15.1))).actions == [.exit(code: 0), .cancelTimer])
        // Done: nothing more happens.
        #expect(h.send(.signal(.reload, now: at(16))).actions == [])
    }

    @Test func gracefulStopExitsAsSoonAsTheLastWorkerIsGone() {
        var h = Harness(workers: 2)
        h.send(.start(now: at(0)))
        h.send(.signal(.terminate, now: at(1)))
        #expect(h.send(.workerExited(101, clean, now: at(1.2))).actions == [])
        #expect(h.send(.workerExited(102, clean, now: at(1.4))).actions == [.exit(code: 0), .cancelTimer])
        #expect(h.notices().last == .exiting(code: 0))
    }

    @Test func nothingIsRespawnedDuringShutdownEvenACrashOrAPendingBackoff() {
        let policy = Supervisor.Backoff(tolerated: 0, window: .seconds(10), initialDelay: .seconds(3), maxDelay: .seconds(30))
        var h = Harness(workers: 2, gracefulTimeout: .seconds(10), backoff: policy)
        h.send(.start(now: at(0)))
        #expect(h.send(.workerExited(101, crash, now: at(1))).actions == [.scheduleTimer(at: at(4))])
        #expect(h.send(.signal(.terminate, now: at(2))).actions == [.signal([102], SIGTERM), .scheduleTimer(at: at(12))])
        #expect(h.send(.tick(now: at(4))).actions == [], "the delayed respawn was cancelled")
        #expect(h.send(.workerExited(102, crash, now: at(5))).actions == [.exit(code: 0), .cancelTimer])
    }

    @Test func aSecondTerminateIsIgnoredButQuitEscalates() {
        var h = Harness(workers: 2)
        h.send(.start(now: at(0)))
        h.send(.signal(.terminate, now: at(1)))
        #expect(h.send(.signal(.terminate, now: at(2))).actions == [])
        #expect(h.notices().last == .commandIgnored(.terminate, reason: "already stopping"))
        #expect(h.send(.signal(.quit, now: at(3))).actions == [.kill([101, 102]), .scheduleTimer(at: at(8))])
    }

    @Test func quitKillsEveryWorkerAndExitsOnceReaped() {
        var h = Harness(workers: 2)
        h.send(.start(now: at(0)))
        #expect(h.send(.signal(.quit, now: at(1))).actions == [.kill([101, 102]), .scheduleTimer(at: at(6))])
        #expect(h.notices().contains(.stopping(graceful: false, workers: 2)))
        #expect(h.send(.workerExited(101, .signaled(SIGKILL), now: at(1))).actions == [])
        #expect(h.send(.workerExited(102, .signaled(SIGKILL), now: at(1))).actions == [.exit(code: 0), .cancelTimer])
    }

    @Test func aKilledWorkerThatIsNeverReapedIsAbandonedAndTheExitStatusSaysSo() {
        var h = Harness(workers: 1)
        h.send(.start(now: at(0)))
        h.send(.signal(.quit, now: at(1)))
        #expect(h.send(.tick(now: at(6))).actions == [.exit(code: 1), .cancelTimer])
        #expect(h.notices().contains(.abandoned(101)))
    }

    @Test func aWorkerSpawnedWhileStoppingIsStoppedToo() {
        var supervisor = Supervisor(configuration: .init(workers: 1))
        _ = supervisor.handle(.start(now: at(0)))  // .spawn(1), not answered yet
        _ = supervisor.handle(.signal(.terminate, now: at(0.5)))
        let actions = supervisor.handle(.spawned(7, now: at(0.6))).filter { if case .log = $0 { false } else { true } }
        #expect(actions == [.signal([7], SIGTERM), .scheduleTimer(at: at(10.6))])
    }
}

@Suite struct SupervisorReloadTests {
    /// Running workers (not asked to stop) at each step must never drop below the target.
    @Test func reloadStartsTheNewGenerationBeforeRetiringTheOld() {
        var h = Harness(workers: 2, gracefulTimeout: .seconds(10), reloadWarmup: .seconds(1))
        h.send(.start(now: at(0)))

        let (reload, fresh) = h.send(.signal(.reload, now: at(5)))
        #expect(reload == [.spawn(count: 2), .scheduleTimer(at: at(6))], "spawn first, no signal to the old ones")
        #expect(fresh == [103, 104])
        #expect(h.supervisor.currentGeneration == 1)
        #expect(h.supervisor.workerPIDs == [101, 102, 103, 104])
        #expect(h.notices().contains(.workerStarted(103, generation: 1)))

        #expect(h.send(.tick(now: at(5.5))).actions == [], "still warming up")
        let retire = h.send(.tick(now: at(6))).actions
        #expect(retire == [.signal([101, 102], SIGTERM), .scheduleTimer(at: at(16))])
        #expect(h.notices().contains(.generationReady(generation: 1, retiring: [101, 102])))

        // Old workers leaving is expected: no respawn.
        #expect(h.send(.workerExited(101, clean, now: at(6.5))).actions == [])
        #expect(h.send(.workerExited(102, clean, now: at(6.6))).actions == [.cancelTimer])
        #expect(h.supervisor.workerPIDs == [103, 104])
    }

    @Test func aNewWorkerThatDiesDuringWarmupDelaysRetirementUntilItsReplacementIsUp() {
        var h = Harness(workers: 2, reloadWarmup: .seconds(1))
        h.send(.start(now: at(0)))
        h.send(.signal(.reload, now: at(5)))                   // 103, 104
        let (actions, spawned) = h.send(.workerExited(103, crash, now: at(5.5)))
        #expect(spawned == [105])
        // The warm-up timer is cancelled with the generation incomplete, then re-armed.
        #expect(actions == [.spawn(count: 1), .cancelTimer, .scheduleTimer(at: at(6.5))])
        #expect(h.send(.tick(now: at(6))).actions == [], "old generation still serving")
        #expect(h.send(.tick(now: at(6.5))).actions == [.signal([101, 102], SIGTERM), .scheduleTimer(at: at(16.5))])
    }

    @Test func ifTheNewGenerationKeepsCrashingTheOldOneKeepsServing() {
        let policy = Supervisor.Backoff(tolerated: 1, window: .seconds(60), initialDelay: .seconds(1), maxDelay: .seconds(8))
        var h = Harness(workers: 1, reloadWarmup: .seconds(1), backoff: policy)
        h.send(.start(now: at(0)))                            // 101
        var newest = h.send(.signal(.reload, now: at(1))).spawned[0]
        var t = 1.1
        for _ in 0..<6 {
            let (_, spawned) = h.send(.workerExited(newest, crash, now: at(t)))
            if let pid = spawned.first { newest = pid } else {
                let (_, later) = h.send(.tick(now: at(t + 10)))
                newest = later[0]
                t += 10
            }
            t += 0.1
        }
        #expect(h.supervisor.workerPIDs.contains(101))
        #expect(!h.log.contains { if case .signal = $0 { true } else { false } }, "never retired the only working generation")
    }

    @Test func anOldWorkerThatOutlivesTheGracefulTimeoutIsKilled() {
        var h = Harness(workers: 1, gracefulTimeout: .seconds(2), reloadWarmup: .seconds(1))
        h.send(.start(now: at(0)))
        h.send(.signal(.reload, now: at(1)))
        h.send(.tick(now: at(2)))                              // retire 101, deadline 4
        #expect(h.send(.tick(now: at(4))).actions == [.kill([101]), .scheduleTimer(at: at(9))])
        #expect(!h.supervisor.isStopping)
        #expect(h.send(.workerExited(101, .signaled(SIGKILL), now: at(4))).actions == [.cancelTimer])
    }

    @Test func reloadDuringShutdownIsIgnored() {
        var h = Harness(workers: 1)
        h.send(.start(now: at(0)))
        h.send(.signal(.terminate, now: at(1)))
        #expect(h.send(.signal(.reload, now: at(2))).actions == [])
        #expect(h.notices().last == .commandIgnored(.reload, reason: "stopping"))
    }

    @Test func terminateDuringReloadStopsBothGenerations() {
        var h = Harness(workers: 1, gracefulTimeout: .seconds(10))
        h.send(.start(now: at(0)))
        h.send(.signal(.reload, now: at(1)))                   // 102 warming up, 101 still running
        #expect(h.send(.signal(.terminate, now: at(1.5))).actions == [.signal([101, 102], SIGTERM), .scheduleTimer(at: at(11.5))])
        h.send(.workerExited(101, clean, now: at(2)))
        #expect(h.send(.workerExited(102, clean, now: at(2))).actions == [.exit(code: 0), .cancelTimer])
    }

    @Test func reloadResetsACrashLoopBackoff() {
        let policy = Supervisor.Backoff(tolerated: 0, window: .seconds(10), initialDelay: .seconds(5), maxDelay: .seconds(30))
        var h = Harness(workers: 1, backoff: policy)
        h.send(.start(now: at(0)))
        #expect(h.send(.workerExited(101, crash, now: at(1))).actions == [.scheduleTimer(at: at(6))])
        let (actions, spawned) = h.send(.signal(.reload, now: at(2)))
        #expect(actions == [.spawn(count: 1), .cancelTimer])
        #expect(spawned == [102])
    }
}
