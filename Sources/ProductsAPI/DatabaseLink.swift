/// Rate-limits reconnection attempts: at most one per `interval`.
///
/// While the database is down, a worker must answer 503 at once rather than spend every
/// request in `connect()`; but it must also notice quickly when the database is back. One
/// attempt per interval (250 ms by default) does both: at most 4 connection attempts per
/// second per worker, and at most one request per interval pays the connect timeout.
public struct ReconnectThrottle: Sendable, Equatable {
    public typealias Instant = ContinuousClock.Instant

    public let interval: Duration
    public private(set) var lastAttempt: Instant?

    public init(interval: Duration) {
        self.interval = interval
    }

    /// Records an attempt made regardless of the interval.
    public mutating func recordAttempt(at now: Instant) {
        lastAttempt = now
    }

    /// True (and the attempt is recorded) if an attempt may be made at `now`.
    public mutating func tryAttempt(at now: Instant) -> Bool {
        if let lastAttempt, now < lastAttempt + interval { return false }
        lastAttempt = now
        return true
    }
}

/// A worker's view of its one database connection, as a state machine: the worker reports
/// what happened, and does what the returned ``Action`` says (the hummingbird pattern: no
/// socket, no clock in here, so every rule is unit-tested).
///
/// The rules:
/// - Connect lazily: the first request connects.
/// - A request that finds no connection tries to connect, unless the ``ReconnectThrottle``
///   says an attempt was made too recently: then it is answered 503 at once.
/// - A request whose query finds the connection broken (the server restarted, a failover)
///   reconnects and retries once, at once, unless this request has already connected: so a
///   database restart costs no 503 once the server is back.
/// - At most one connection attempt per request, ever.
public struct DatabaseLinkStateMachine: Sendable {
    public typealias Instant = ContinuousClock.Instant

    public enum Action: Hashable, Sendable {
        /// The connection is up: run the statement.
        case query
        /// Connect (and prepare the statements), then report ``connected()`` or
        /// ``connectFailed()``.
        case connect
        /// Answer 503 now, without touching the network.
        case unavailable
    }

    private enum State: Hashable, Sendable {
        case disconnected
        case connected
    }

    private var state: State = .disconnected
    private var throttle: ReconnectThrottle
    private var attemptedInThisRequest = false
    private var suppressed = 0

    public init(retryInterval: Duration) {
        throttle = ReconnectThrottle(interval: retryInterval)
    }

    public var isConnected: Bool { state == .connected }

    /// A request needs the database. `now` is only read when there is no connection.
    public mutating func requestStarted(now: @autoclosure () -> Instant) -> Action {
        attemptedInThisRequest = false
        if state == .connected { return .query }
        return attempt(now: now())
    }

    /// The `.connect` succeeded (connected and prepared).
    public mutating func connected() {
        state = .connected
    }

    /// The worker closed a working connection on purpose (its lifetime is over); the next
    /// request connects again, as after ``connectionLost(now:)`` but without counting as an attempt.
    public mutating func connectionClosed() {
        state = .disconnected
    }

    /// The `.connect` failed: the request is answered 503.
    public mutating func connectFailed() {
        state = .disconnected
    }

    /// The query found the connection unusable (and the worker has closed it). Returns
    /// `.connect` to reconnect and retry the query once, or `.unavailable`.
    ///
    /// A connection that worked until now (the server restarted, a failover) is retried at
    /// once, whatever the throttle says: the database is most likely back, and making the
    /// request wait out the interval would answer a needless 503. The attempt still counts
    /// for the throttle, so if it fails the next requests are answered 503 at once.
    public mutating func connectionLost(now: @autoclosure () -> Instant) -> Action {
        state = .disconnected
        if attemptedInThisRequest { return .unavailable }
        throttle.recordAttempt(at: now())
        attemptedInThisRequest = true
        return .connect
    }

    /// How many requests were answered 503 without an attempt since the last call (for the
    /// next log line, so that a down database logs a few lines per second, not one per request).
    public mutating func takeSuppressedCount() -> Int {
        defer { suppressed = 0 }
        return suppressed
    }

    private mutating func attempt(now: Instant) -> Action {
        if throttle.tryAttempt(at: now) {
            attemptedInThisRequest = true
            return .connect
        }
        suppressed += 1
        return .unavailable
    }
}
