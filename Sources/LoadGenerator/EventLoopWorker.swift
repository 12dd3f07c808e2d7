import CSystemShims
import SystemCalls
#if os(Linux)
import Glibc
import Synchronization

/// Live counters the coordinating thread prints while a run goes (relaxed atomics: a progress
/// line, not a measurement).
public final class LiveCounters: Sendable {
    public let sent = Atomic<Int>(0)
    public let completed = Atomic<Int>(0)
    public let failed = Atomic<Int>(0)
    public let waiting = Atomic<Int>(0)
    public init() {}
}

/// What one event-loop thread needs: values only, built by `LoadTest`.
struct WorkerConfiguration: Sendable {
    var address: SocketAddress
    var encoder: HTTPRequestEncoder
    var planner: RequestPlanner
    var schedule: Schedule
    /// Monotonic ns of slot 0.
    var start: UInt64
    /// This thread takes slots index, index + threads, …
    var index: Int
    var threads: Int
    var connections: Int
    /// The pool may grow to this many (≥ connections): see ``LoadTestConfiguration/maxConnections``.
    var maxConnections: Int
    /// Close a connection after this many answers and open a new one (nil: keep it).
    var requestsPerConnection: Int?
    var timeout: UInt64
    var allow404: Bool
    var counters: LiveCounters
}

/// One thread of the open loop: a non-blocking keep-alive connection pool on epoll.
///
/// Each slot's requests become due at their scheduled time and go to the pending queue; a
/// request is written as soon as it is due and a connection is free (never earlier). No send
/// waits for an answer to another request, so a slow server cannot slow the schedule down:
/// when every connection is busy, requests wait in the queue and that wait is part of their
/// latency, which is always measured from the scheduled time.
final class EventLoopWorker {
    enum ConnectionState { case disconnected, connecting, idle, busy }

    final class Connection {
        var fd: Int32 = -1
        var state = ConnectionState.disconnected
        var request: PlannedRequest?
        var out: [UInt8] = []
        var written = 0
        var parser = HTTPResponseParser()
        /// Responses completed on this TCP connection (a close before the first is not a
        /// keep-alive race, so no retry, unless the connection had sat idle: `openedAt`).
        var served = 0
        /// When its connect completed. A server closes a connection that sends no request
        /// for a while (nginx's client_header_timeout, 10 s here): a request written as it does
        /// is the same race as a keep-alive close.
        var openedAt: UInt64 = 0
        /// Earliest time to try connecting again after a failed attempt.
        var reconnectAt: UInt64 = 0
        /// A connect still in progress at this time is abandoned.
        var connectDeadline: UInt64 = 0
        var failedAttempts = 0
        var wantsWrite = false
        /// When the request on it was written.
        var sentAt: UInt64 = 0
        /// Realtime ns just before its first byte went to the kernel, and the kernel's receive
        /// time of the last segment of the answer read so far (0: none): the answer's time on
        /// the wire, without this thread's own scheduling delays.
        var writtenAt: Int64 = 0
        var arrivedAt: Int64 = 0
        /// Its request already counted as a timeout; an answer that still comes is a late answer.
        var expired = false
        init() { out.reserveCapacity(512) }
    }

    struct PageState { var remaining: Int; var worst: UInt64; var failed: Bool; var measured: Bool }

    private let config: WorkerConfiguration
    private let epoll: Epoll
    private var connections: [Connection]
    private var idle: [Int] = []
    private var pending: [PlannedRequest] = []
    private var pendingHead = 0
    private var inFlight = 0
    private var nextSlot: Int
    private let slotCount: Int
    private var pages: [Int: PageState] = [:]
    private var stats = RunStatistics()
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var nextScan: UInt64 = 0
    /// Some connection is connecting or waiting to reconnect (the periodic scan must run).
    private var connectionsNotReady = true
    /// Connections whose connect is in progress: requests waiting for them open no more.
    private var opening = 0
    private let isPage: Bool

    static let readBufferSize = 64 * 1024
    static let scanInterval: UInt64 = 2_000_000          // timeouts and reconnects: every 2 ms
    static let reconnectBackoff: UInt64 = 100_000_000    // after a failed connect attempt
    /// A connection unused this long since it opened may be closed by the server as idle.
    static let idleRaceAge: UInt64 = 1_000_000_000

    init(_ config: WorkerConfiguration) throws(LoadError) {
        self.config = config
        epoll = try Epoll(capacity: max(16, config.connections + 4))
        connections = (0..<config.connections).map { _ in Connection() }
        nextSlot = config.index
        slotCount = config.schedule.slotCount
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readBufferSize, alignment: 16)
        isPage = config.planner.workload == .page
        stats.seriesOrigin = config.start + config.schedule.warmupNanoseconds
        pending.reserveCapacity(1024)
    }

    deinit {
        for c in connections where c.fd >= 0 { close(c.fd) }
        readBuffer.deallocate()
    }

    var pendingCount: Int { pending.count - pendingHead }
    /// Whether waits had nanosecond timeouts (epoll_pwait2) rather than milliseconds.
    var preciseTimeouts: Bool { epoll.preciseTimeouts }

    func run() -> RunStatistics {
        reduceTimerSlack()
        let begin = monotonicNanoseconds()
        for i in connections.indices { connect(i, now: begin) }
        let schedule = config.schedule
        var loops = 0
        while true {
            var now = monotonicNanoseconds()
            enqueueDueSlots(now: now)
            dispatch(now: now)
            if now >= nextScan {
                scan(now: now)
                nextScan = now + Self.scanInterval
            }
            if nextSlot >= slotCount && pendingCount == 0 && inFlight == 0 { break }

            var deadline = UInt64.max
            if nextSlot < slotCount { deadline = config.start + schedule.offset(ofSlot: nextSlot) }
            if inFlight > 0 || pendingCount > 0 || connectionsNotReady {
                deadline = min(deadline, nextScan)
            }
            loops &+= 1
            if loops & 63 == 0 { config.counters.waiting.store(pendingCount, ordering: .relaxed) }
            now = monotonicNanoseconds()
            let n = epoll.wait(timeoutNanoseconds: deadline == .max ? nil : (deadline > now ? deadline - now : 0))
            if n > 0 {
                let t = monotonicNanoseconds()
                for i in 0..<n {
                    let (events, data) = epoll.event(i)
                    handle(Int(data), events: events, now: t)
                }
            }
        }
        for c in connections where c.fd >= 0 {
            close(c.fd)
            c.fd = -1
            c.state = .disconnected
        }
        config.counters.waiting.store(0, ordering: .relaxed)
        return stats
    }

    // MARK: Schedule

    private func enqueueDueSlots(now: UInt64) {
        let schedule = config.schedule
        while nextSlot < slotCount {
            let due = config.start + schedule.offset(ofSlot: nextSlot)
            if due > now { break }
            let slot = nextSlot
            let measured = schedule.isMeasured(slot)
            config.planner.forEachRequest(inSlot: slot) { route, target in
                pending.append(PlannedRequest(slot: slot, due: due, route: route, target: target, measured: measured))
            }
            if measured { stats.scheduled += schedule.requestsPerSlot }
            if isPage { pages[slot] = PageState(remaining: 3, worst: 0, failed: false, measured: measured) }
            nextSlot += config.threads
        }
    }

    private func dispatch(now: UInt64) {
        while pendingHead < pending.count {
            guard let index = idle.popLast() else {
                grow(now: now)
                break
            }
            let request = pending[pendingHead]
            pendingHead += 1
            if queuedCounted > 0 { queuedCounted -= 1 }
            send(request, on: index, now: now)
        }
        if pendingHead > 0 && (pendingHead == pending.count || pendingHead >= 4096) {
            pending.removeFirst(pendingHead)
            pendingHead = 0
        }
        // Requests still waiting for a free connection at their due time, each counted once.
        var i = pendingHead + queuedCounted
        while i < pending.count {
            if pending[i].measured { stats.queuedForConnection += 1 }
            i += 1
        }
        queuedCounted = pending.count - pendingHead
    }
    /// How many requests at the head of the queue were already counted as queued.
    private var queuedCounted = 0

    // MARK: Connections

    /// Opens a connection for each waiting request that no connect in progress will take,
    /// while the pool is below ``WorkerConfiguration/maxConnections``.
    private func grow(now: UInt64) {
        var wanted = min(pendingCount - opening, config.maxConnections - connections.count)
        while wanted > 0 {
            connections.append(Connection())
            connect(connections.count - 1, now: now)
            wanted -= 1
        }
    }

    private func connect(_ index: Int, now: UInt64) {
        let c = connections[index]
        connectionsNotReady = true
        c.parser.reset()
        c.request = nil
        c.written = 0
        c.served = 0
        c.wantsWrite = false
        do {
            let (fd, connected) = try config.address.connectNonBlocking()
            c.fd = fd
            stats.connectionsOpened += 1
            if connected {
                c.state = .idle
                c.openedAt = now
                try epoll.add(fd, events: Epoll.epollIn | Epoll.epollRdHup, data: UInt64(index))
                c.failedAttempts = 0
                idle.append(index)
            } else {
                c.state = .connecting
                opening += 1
                c.connectDeadline = now + config.timeout
                try epoll.add(fd, events: Epoll.epollOut | Epoll.epollIn | Epoll.epollRdHup, data: UInt64(index))
            }
        } catch {
            connectFailed(index, now: now)
        }
    }

    private func connectFailed(_ index: Int, now: UInt64) {
        let c = connections[index]
        if c.state == .connecting { opening -= 1 }
        if c.fd >= 0 { close(c.fd) }
        c.fd = -1
        c.state = .disconnected
        c.failedAttempts += 1
        c.reconnectAt = now + Self.reconnectBackoff
        stats.connectErrors += 1
    }

    /// Closes the connection (the request on it, if any, is the caller's business) and opens
    /// a new one at once, or after a back-off if connecting has been failing.
    private func reopen(_ index: Int, now: UInt64) {
        let c = connections[index]
        if c.fd >= 0 { close(c.fd) }   // closing removes it from the epoll set
        c.fd = -1
        if c.state == .busy { inFlight -= 1 }
        if c.state == .idle, let at = idle.firstIndex(of: index) { idle.remove(at: at) }
        if c.state == .connecting { opening -= 1 }
        c.state = .disconnected
        c.request = nil
        connect(index, now: now)
    }

    // MARK: Requests

    private func send(_ request: PlannedRequest, on index: Int, now: UInt64) {
        let c = connections[index]
        config.encoder.encode(route: request.route, target: request.target, into: &c.out)
        c.written = 0
        c.request = request
        c.sentAt = now
        c.writtenAt = 0
        c.arrivedAt = 0
        c.expired = false
        c.parser.reset()
        c.state = .busy
        inFlight += 1
        if request.measured && !request.retried { stats.sendDelay.recordNanoseconds(now > request.due ? now - request.due : 0) }
        config.counters.sent.add(1, ordering: .relaxed)
        write(index, now: now)
    }

    private func write(_ index: Int, now: UInt64) {
        let c = connections[index]
        if c.written == 0 { c.writtenAt = realtimeNanoseconds() }
        while c.written < c.out.count {
            let n = c.out.withUnsafeBytes { raw in
                retryingEINTR { Glibc.send(c.fd, raw.baseAddress! + c.written, raw.count - c.written, Int32(MSG_NOSIGNAL)) }
            }
            if n > 0 {
                c.written += n
                continue
            }
            let e = errno
            if n < 0 && (e == EAGAIN || e == EWOULDBLOCK) {
                setWriteInterest(index, true)
                return
            }
            connectionLost(index, now: now)
            return
        }
        setWriteInterest(index, false)
    }

    private func setWriteInterest(_ index: Int, _ on: Bool) {
        let c = connections[index]
        guard c.wantsWrite != on else { return }
        c.wantsWrite = on
        try? epoll.modify(c.fd, events: Epoll.epollIn | Epoll.epollRdHup | (on ? Epoll.epollOut : 0), data: UInt64(index))
    }

    private func handle(_ index: Int, events: UInt32, now: UInt64) {
        guard index < connections.count else { return }
        let c = connections[index]
        switch c.state {
        case .disconnected:
            return
        case .connecting:
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 || events & (Epoll.epollErr | Epoll.epollHup) != 0 {
                connectFailed(index, now: now)
                return
            }
            c.state = .idle
            c.openedAt = now
            opening -= 1
            c.failedAttempts = 0
            try? epoll.modify(c.fd, events: Epoll.epollIn | Epoll.epollRdHup, data: UInt64(index))
            idle.append(index)
        case .idle:
            // Readable while idle: the server closed the keep-alive connection (or sent junk).
            var probe: UInt8 = 0
            let n = recv(c.fd, &probe, 1, Int32(MSG_DONTWAIT))
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && events & (Epoll.epollHup | Epoll.epollErr | Epoll.epollRdHup) == 0 { return }
            reopen(index, now: now)
        case .busy:
            if events & Epoll.epollOut != 0 && c.written < c.out.count {
                write(index, now: now)
                guard c.state == .busy else { return }
            }
            if events & (Epoll.epollIn | Epoll.epollRdHup | Epoll.epollHup | Epoll.epollErr) != 0 {
                read(index, now: now)
            }
        }
    }

    private func read(_ index: Int, now: UInt64) {
        let c = connections[index]
        while true {
            var arrived: Int64 = 0
            let n = retryingEINTR { products_recv_stamped(c.fd, readBuffer.baseAddress, UInt(readBuffer.count), &arrived) }
            if arrived > 0 { c.arrivedAt = arrived }
            if n > 0 {
                let chunk = UnsafeRawBufferPointer(rebasing: readBuffer[0..<n])
                do {
                    if let used = try c.parser.parse(chunk) {
                        complete(index, now: now, leftover: used < n)
                        return
                    }
                } catch {
                    fail(index, outcome: .socketError, now: now)
                    return
                }
                if n < readBuffer.count { return }
                continue
            }
            if n == 0 {
                if c.parser.finishAtEOF() {
                    complete(index, now: now, leftover: false, closed: true)
                } else {
                    connectionLost(index, now: now)
                }
                return
            }
            let e = errno
            if e == EAGAIN || e == EWOULDBLOCK { return }
            connectionLost(index, now: now)
            return
        }
    }

    /// The connection died under a request before any byte of the answer: the server's idle
    /// close racing our write, which browsers answer by resending an idempotent GET (RFC 9110
    /// 9.2.2). Resend once if it was a reused keep-alive connection; resend whenever it was one
    /// unused for `idleRaceAge` since it opened (each such connection is replaced by a fresh
    /// one, so this ends; the resent request may meet the next stale one). Otherwise the
    /// request failed.
    private func connectionLost(_ index: Int, now: UInt64) {
        let c = connections[index]
        let stale = c.served == 0 && c.sentAt >= c.openedAt + Self.idleRaceAge
        if var request = c.request, stale || (c.served > 0 && !request.retried), !c.parser.hasStarted, !c.expired {
            request.retried = true
            if request.measured { stats.retries += 1 }
            reopen(index, now: now)
            // Back to the head of the queue: it is the oldest request waiting.
            if pendingHead > 0 {
                pendingHead -= 1
                pending[pendingHead] = request
            } else {
                pending.insert(request, at: 0)
            }
            queuedCounted += 1
            return
        }
        fail(index, outcome: .socketError, now: now)
    }

    /// Ends the connection's request with `outcome` (unless it already counted as a timeout)
    /// and replaces the connection.
    private func fail(_ index: Int, outcome: Outcome, now: UInt64) {
        let c = connections[index]
        if let request = c.request, !c.expired { finish(request, outcome: outcome, now: now) }
        reopen(index, now: now)
    }

    private func complete(_ index: Int, now: UInt64, leftover: Bool, closed: Bool = false) {
        let c = connections[index]
        guard let request = c.request, let head = c.parser.head else { return }
        if request.measured { stats.bodyBytes += c.parser.bodyBytes }
        if c.expired {
            // Counted as a timeout already; the server still did the work (throughput).
            if request.measured {
                stats.lateAnswers += 1
                stats.lastCompletion = max(stats.lastCompletion, now)
            }
        } else {
            let onWire = c.writtenAt > 0 && c.arrivedAt >= c.writtenAt ? UInt64(c.arrivedAt - c.writtenAt) : nil
            finish(request, outcome: .response(status: head.status, cache: head.cacheStatus), now: now, sentAt: c.sentAt,
                   onWire: onWire)
        }
        c.served += 1
        if closed || leftover || !head.keepAlive || c.served >= (config.requestsPerConnection ?? .max) {
            reopen(index, now: now)
            return
        }
        c.request = nil
        c.parser.reset()
        c.state = .idle
        inFlight -= 1
        idle.append(index)
    }

    private func finish(_ request: PlannedRequest, outcome: Outcome, now: UInt64, sentAt: UInt64? = nil,
                        onWire: UInt64? = nil) {
        var success = false
        if case .response(let status, _) = outcome {
            success = (200..<300).contains(status) || (config.allow404 && status == 404)
        }
        if request.measured {
            stats.record(route: request.route, due: request.due, now: now, outcome: outcome, allow404: config.allow404,
                         sentAt: sentAt, onWire: onWire)
        }
        config.counters.completed.add(1, ordering: .relaxed)
        if !success { config.counters.failed.add(1, ordering: .relaxed) }
        if isPage, var page = pages[request.slot] {
            page.remaining -= 1
            page.worst = max(page.worst, now > request.due ? now - request.due : 0)
            if !success { page.failed = true }
            if page.remaining == 0 {
                pages[request.slot] = nil
                if page.measured {
                    stats.pages += 1
                    if page.failed { stats.pageErrors += 1 }
                    stats.pageLatency.recordNanoseconds(page.worst)
                }
            } else {
                pages[request.slot] = page
            }
        }
    }

    // MARK: Timeouts and reconnects

    private func scan(now: UInt64) {
        let timeout = config.timeout
        connectionsNotReady = false
        // Queued requests past their time are abandoned unsent.
        while pendingHead < pending.count, pending[pendingHead].due + timeout <= now {
            finish(pending[pendingHead], outcome: .timeout, now: now)
            pendingHead += 1
            if queuedCounted > 0 { queuedCounted -= 1 }
        }
        for index in connections.indices {
            let c = connections[index]
            switch c.state {
            case .busy:
                guard let request = c.request else { break }
                // Past its deadline the request is a timeout, but the connection keeps waiting
                // for the answer (the server is doing the work; closing would throw that away
                // and churn connections exactly when the server is overloaded). Only a request
                // unanswered for a whole timeout after it was written costs the connection.
                if !c.expired && request.due + timeout <= now {
                    finish(request, outcome: .timeout, now: now)
                    c.expired = true
                }
                if c.sentAt + timeout <= now {
                    fail(index, outcome: .timeout, now: now)
                }
            case .connecting:
                // A connect that hangs (SYN lost, backlog full) is retried after the timeout.
                if c.connectDeadline <= now { connectFailed(index, now: now) }
                connectionsNotReady = true
            case .disconnected:
                if c.reconnectAt <= now { connect(index, now: now) }
                connectionsNotReady = true
            case .idle:
                break
            }
        }
    }
}
#endif
