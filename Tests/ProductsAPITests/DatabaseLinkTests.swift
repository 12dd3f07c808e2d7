import Testing
import ProductsAPI

@Suite struct ReconnectThrottleTests {
    let t0 = ContinuousClock.now

    @Test func firstAttemptIsAllowed() {
        var throttle = ReconnectThrottle(interval: .milliseconds(250))
        check(throttle.lastAttempt == nil)
        check(throttle.tryAttempt(at: t0))
        check(throttle.lastAttempt == t0)
    }

    @Test func atMostOneAttemptPerInterval() {
        var throttle = ReconnectThrottle(interval: .milliseconds(250))
        check(throttle.tryAttempt(at: t0))
        check(!throttle.tryAttempt(at: t0))
        check(!throttle.tryAttempt(at: t0 + .milliseconds(249)))
        check(throttle.tryAttempt(at: t0 + .milliseconds(250)))
        check(!throttle.tryAttempt(at: t0 + .milliseconds(499)))
        check(throttle.tryAttempt(at: t0 + .seconds(10)))
        check(throttle.lastAttempt == t0 + .seconds(10))
    }

    @Test func deniedAttemptsDoNotPushTheWindow() {
        var throttle = ReconnectThrottle(interval: .milliseconds(250))
        check(throttle.tryAttempt(at: t0))
        for ms in stride(from: 10, to: 250, by: 10) {
            check(!throttle.tryAttempt(at: t0 + .milliseconds(ms)))
        }
        check(throttle.tryAttempt(at: t0 + .milliseconds(250)))
    }
}

@Suite struct DatabaseLinkStateMachineTests {
    let t0 = ContinuousClock.now

    @Test func firstRequestConnects() {
        var link = DatabaseLinkStateMachine(retryInterval: .milliseconds(250))
        check(!link.isConnected)
        check(link.requestStarted(now: t0) == .connect)
        link.connected()
        check(link.isConnected)
        check(link.requestStarted(now: t0) == .query)
        check(link.requestStarted(now: t0 + .milliseconds(1)) == .query)
    }

    @Test func connectedRequestsDoNotReadTheClock() {
        var link = DatabaseLinkStateMachine(retryInterval: .milliseconds(250))
        _ = link.requestStarted(now: t0)
        link.connected()
        var reads = 0
        func now() -> ContinuousClock.Instant { reads += 1; return t0 }
        check(link.requestStarted(now: now()) == .query)
        check(reads == 0)
    }

    @Test func aConnectionClosedAtTheEndOfItsLifetimeIsRemadeByTheNextRequest() {
        var link = DatabaseLinkStateMachine(retryInterval: .milliseconds(250))
        check(link.requestStarted(now: t0) == .connect)
        link.connected()
        link.connectionClosed()
        check(!link.isConnected)
        // Not throttled: the closing was no failed attempt (the last attempt was long ago).
        check(link.requestStarted(now: t0 + .seconds(60)) == .connect)
        link.connected()
        check(link.requestStarted(now: t0 + .seconds(60)) == .query)
    }

    @Test func databaseDownAnswers503AtOnceBetweenAttempts() {
        var link = DatabaseLinkStateMachine(retryInterval: .milliseconds(250))
        check(link.requestStarted(now: t0) == .connect)
        link.connectFailed()
        check(link.requestStarted(now: t0 + .milliseconds(1)) == .unavailable)
        check(link.requestStarted(now: t0 + .milliseconds(100)) == .unavailable)
        check(link.requestStarted(now: t0 + .milliseconds(249)) == .unavailable)
        check(link.takeSuppressedCount() == 3)
        check(link.takeSuppressedCount() == 0)
        check(link.requestStarted(now: t0 + .milliseconds(250)) == .connect)
        link.connectFailed()
        check(link.requestStarted(now: t0 + .milliseconds(260)) == .unavailable)
        check(link.requestStarted(now: t0 + .milliseconds(500)) == .connect)
        link.connected()
        check(link.requestStarted(now: t0 + .milliseconds(501)) == .query)
    }

    @Test func lostConnectionIsRetriedOnceInTheSameRequest() {
        var link = DatabaseLinkStateMachine(retryInterval: .milliseconds(250))
        check(link.requestStarted(now: t0) == .connect)
        link.connected()
        // Much later, the server restarts under us.
        let later = t0 + .seconds(60)
        check(link.requestStarted(now: later) == .query)
        check(link.connectionLost(now: later) == .connect)
        link.connected()
        check(link.isConnected)
        check(link.requestStarted(now: later) == .query)
    }

    @Test func atMostOneConnectionAttemptPerRequest() {
        var link = DatabaseLinkStateMachine(retryInterval: .zero)  // even with no throttle
        check(link.requestStarted(now: t0) == .connect)
        link.connected()
        // Connected in this request, and the query still finds the connection broken.
        check(link.connectionLost(now: t0 + .seconds(1)) == .unavailable)
        check(!link.isConnected)
        // The next request may try again.
        check(link.requestStarted(now: t0 + .seconds(1)) == .connect)
    }

    @Test func reconnectAfterLossIsThrottled() {
        var link = DatabaseLinkStateMachine(retryInterval: .milliseconds(250))
        check(link.requestStarted(now: t0) == .connect)
        link.connected()
        check(link.requestStarted(now: t0 + .seconds(1)) == .query)
        check(link.connectionLost(now: t0 + .seconds(1)) == .connect)
        link.connectFailed()
        // Another request 10 ms later: the query path is gone, and the throttle holds.
        check(link.requestStarted(now: t0 + .seconds(1) + .milliseconds(10)) == .unavailable)
    }

    @Test func aConnectionThatWorkedIsRetriedAtOnceEvenRightAfterConnecting() {
        // A database restart: the connection made by the previous request is found dead.
        // Waiting out the interval would answer a needless 503; retry at once instead.
        var link = DatabaseLinkStateMachine(retryInterval: .milliseconds(250))
        check(link.requestStarted(now: t0) == .connect)
        link.connected()
        check(link.requestStarted(now: t0 + .milliseconds(10)) == .query)
        check(link.connectionLost(now: t0 + .milliseconds(10)) == .connect)
        link.connectFailed()
        // That attempt counts: while the database stays down, requests get 503 at once.
        check(link.requestStarted(now: t0 + .milliseconds(20)) == .unavailable)
        check(link.takeSuppressedCount() == 1)
        check(link.requestStarted(now: t0 + .milliseconds(260)) == .connect)
    }
}

/// `#expect` cannot wrap a mutating call; this evaluates the condition first.
private func check(_ condition: Bool, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(condition, comment, sourceLocation: sourceLocation)
}
