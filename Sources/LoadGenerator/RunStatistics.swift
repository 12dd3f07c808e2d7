import Foundation
import Histogram

/// Latencies in microseconds, 3 significant digits, up to one hour.
public typealias LatencyHistogram = Histogram<UInt64>

extension Histogram where Count == UInt64 {
    public static func latency() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000,
                          numberOfSignificantValueDigits: .three)
    }

    /// Records nanoseconds as microseconds (rounded), clamped to the trackable range.
    mutating func recordNanoseconds(_ ns: UInt64) {
        let us = Swift.min((ns + 500) / 1000, highestTrackableValue)
        record(us)
    }
}

/// How one request ended.
public enum Outcome: Sendable, Equatable {
    /// A complete HTTP response, whatever its status.
    case response(status: Int, cache: CacheStatus)
    /// Not answered within --timeout of its scheduled time (queued or in flight).
    case timeout
    /// The connection failed under it (reset, closed before a complete answer, bad HTTP).
    case socketError
}

/// One second of the measured window (by scheduled time): what a loader.io-style chart plots.
public struct SecondBucket: Sendable, Equatable {
    public var ok = 0
    public var httpErrors = 0
    public var timeouts = 0
    public var socketErrors = 0
    /// Latencies in quarter-octave buckets: bucket i holds [2^(i/4), 2^((i+1)/4)) µs, the last
    /// one everything above ~30 s; percentiles are read as the bucket's upper edge (≤ 19 % high).
    public var latency = [UInt32](repeating: 0, count: SecondBucket.latencyBuckets)
    static let latencyBuckets = 100

    public init() {}

    mutating func record(nanoseconds: UInt64) {
        let us = max(1, Double(nanoseconds) / 1000)
        latency[min(Self.latencyBuckets - 1, Int((4 * Foundation.log2(us)).rounded(.down)))] += 1
    }

    mutating func add(_ other: SecondBucket) {
        ok += other.ok; httpErrors += other.httpErrors; timeouts += other.timeouts; socketErrors += other.socketErrors
        for i in latency.indices { latency[i] += other.latency[i] }
    }

    /// The latency at quantile `q` (0…1) in ms, nil when nothing was measured this second.
    public func latencyMs(quantile q: Double) -> Double? {
        let total = latency.reduce(0) { $0 + Int($1) }
        guard total > 0 else { return nil }
        let rank = max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for (i, n) in latency.enumerated() {
            seen += Int(n)
            if seen >= rank { return Foundation.pow(2, Double(i + 1) / 4) / 1000 }
        }
        return nil
    }
}

/// Everything one event-loop thread measured; threads' statistics are merged at the end.
/// Only requests scheduled after the warm-up are counted.
public struct RunStatistics: Sendable {
    /// Every answered request (any status) and every timeout (at the time it was abandoned),
    /// from its scheduled send time. Socket errors have no latency.
    public var latency = LatencyHistogram.latency()
    /// The same, per route (indexed by Route.rawValue).
    public var routeLatency = Route.allCases.map { _ in LatencyHistogram.latency() }
    /// Product pages: from the page's scheduled time to the last of its three answers.
    public var pageLatency = LatencyHistogram.latency()
    /// From the scheduled time to the first write of the request: the generator's own lateness
    /// plus any wait for a free connection. Also part of `latency`.
    public var sendDelay = LatencyHistogram.latency()
    /// Answers with a 5xx status (a server refusing load: 503 past its bound), from the
    /// scheduled time: how fast a refusal comes. Also part of `latency`.
    public var refusedLatency = LatencyHistogram.latency()
    /// The 5xx answers' time from the request's first write to its answer: how fast the server
    /// refused, without the generator's own lateness (which `refusedLatency` includes).
    public var refusedServiceLatency = LatencyHistogram.latency()
    /// The 5xx answers' time from the request's first write to the kernel's receive timestamp
    /// of the answer: the refusal as the client's network stack saw it, without the delays of
    /// the generator's threads in reading it (on a machine the generator shares, those are most
    /// of `refusedServiceLatency`). Empty where the kernel gives no receive timestamps.
    public var refusedWireLatency = LatencyHistogram.latency()

    /// Requests scheduled in the measured window.
    public var scheduled = 0
    /// ... that got a complete HTTP response.
    public var answered = 0
    /// ... 2xx (or 404 with --allow-404).
    public var ok = 0
    public var httpErrors = 0
    public var timeouts = 0
    /// Timeouts whose answer still came later (the server's throughput, not the client's).
    public var lateAnswers = 0
    public var socketErrors = 0
    /// Requests resent once after a keep-alive connection was closed under them before any answer.
    public var retries = 0
    /// Requests that found no free connection at their due time.
    public var queuedForConnection = 0
    /// Failed connection attempts (not tied to a request).
    public var connectErrors = 0
    /// TCP connections opened over the whole run (warm-up included): the pool, plus one per
    /// keep-alive close, timeout or error.
    public var connectionsOpened = 0
    public var pages = 0
    public var pageErrors = 0
    public var bodyBytes = 0

    /// Index = status code (100…599); 0 = anything else.
    public var statusCounts = [Int](repeating: 0, count: 600)
    public var cacheCounts = [Int](repeating: 0, count: CacheStatus.allCases.count)
    public var routeCounts = [Int](repeating: 0, count: Route.allCases.count)

    /// Monotonic ns of the last measured completion (0 if none).
    public var lastCompletion: UInt64 = 0

    /// Per second of the measured window, by scheduled time (``SecondBucket``).
    public var series: [SecondBucket] = []
    /// Monotonic ns where the measured window (and ``series``) starts.
    public var seriesOrigin: UInt64 = 0

    public init() {}

    private mutating func bucket(_ due: UInt64) -> Int {
        let second = due > seriesOrigin ? Int((due - seriesOrigin) / 1_000_000_000) : 0
        if second >= series.count { series.append(contentsOf: repeatElement(SecondBucket(), count: second + 1 - series.count)) }
        return second
    }

    /// Counts one measured request's end. Returns whether it succeeded.
    @discardableResult
    public mutating func record(route: Route, due: UInt64, now: UInt64, outcome: Outcome, allow404: Bool,
                                sentAt: UInt64? = nil, onWire: UInt64? = nil) -> Bool {
        let elapsed = now > due ? now - due : 0
        var success = false
        switch outcome {
        case .response(let status, let cache):
            answered += 1
            statusCounts[status >= 100 && status < 600 ? status : 0] += 1
            cacheCounts[cache.rawValue] += 1
            success = (200..<300).contains(status) || (allow404 && status == 404)
            if success { ok += 1 } else { httpErrors += 1 }
            let b = bucket(due)
            if success { series[b].ok += 1 } else { series[b].httpErrors += 1 }
            series[b].record(nanoseconds: elapsed)
            latency.recordNanoseconds(elapsed)
            routeLatency[route.rawValue].recordNanoseconds(elapsed)
            if status >= 500 && status < 600 {
                refusedLatency.recordNanoseconds(elapsed)
                if let sentAt { refusedServiceLatency.recordNanoseconds(now > sentAt ? now - sentAt : 0) }
                if let onWire { refusedWireLatency.recordNanoseconds(onWire) }
            }
        case .timeout:
            timeouts += 1
            let b = bucket(due)
            series[b].timeouts += 1
            series[b].record(nanoseconds: elapsed)
            latency.recordNanoseconds(elapsed)
            routeLatency[route.rawValue].recordNanoseconds(elapsed)
        case .socketError:
            socketErrors += 1
            series[bucket(due)].socketErrors += 1
        }
        routeCounts[route.rawValue] += 1
        if now > lastCompletion { lastCompletion = now }
        return success
    }

    public var errors: Int { httpErrors + timeouts + socketErrors }

    public mutating func merge(_ other: RunStatistics) {
        latency.add(other.latency)
        for i in routeLatency.indices { routeLatency[i].add(other.routeLatency[i]) }
        pageLatency.add(other.pageLatency)
        sendDelay.add(other.sendDelay)
        refusedLatency.add(other.refusedLatency)
        refusedServiceLatency.add(other.refusedServiceLatency)
        refusedWireLatency.add(other.refusedWireLatency)
        scheduled += other.scheduled
        answered += other.answered
        ok += other.ok
        httpErrors += other.httpErrors
        timeouts += other.timeouts
        lateAnswers += other.lateAnswers
        socketErrors += other.socketErrors
        retries += other.retries
        queuedForConnection += other.queuedForConnection
        connectErrors += other.connectErrors
        connectionsOpened += other.connectionsOpened
        pages += other.pages
        pageErrors += other.pageErrors
        bodyBytes += other.bodyBytes
        for i in statusCounts.indices { statusCounts[i] += other.statusCounts[i] }
        for i in cacheCounts.indices { cacheCounts[i] += other.cacheCounts[i] }
        for i in routeCounts.indices { routeCounts[i] += other.routeCounts[i] }
        lastCompletion = max(lastCompletion, other.lastCompletion)
        if other.series.count > series.count {
            series.append(contentsOf: repeatElement(SecondBucket(), count: other.series.count - series.count))
        }
        for i in other.series.indices { series[i].add(other.series[i]) }
        if seriesOrigin == 0 { seriesOrigin = other.seriesOrigin }
    }
}
