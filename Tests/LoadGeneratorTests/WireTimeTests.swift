import Foundation
import Testing
@testable import LoadGenerator
#if canImport(Glibc)
import Glibc
#endif

/// products-load through real sockets: the refusals' time on the wire (first write → the
/// kernel's receive timestamp of the answer), the figure `real-traffic` judges the fast 503 by,
/// so that a load generator sharing the machine's cores does not add its own scheduling delays
/// to it; and a connection the server closes as idle just as the first request goes out.
@Suite struct WireTimeTests {
    /// A server on 127.0.0.1 that answers every request `status` after `delay` (keep-alive),
    /// one thread per connection; with `closeIdleAfter`, a connection whose first request
    /// comes later than that after it was accepted is closed without an answer (nginx's
    /// client_header_timeout firing as the request arrives). Returns its port and listening
    /// socket (closing it ends the accepting thread).
    static func server(status: String = "503 Service Unavailable", delay: useconds_t,
                       closeIdleAfter: TimeInterval? = nil) throws -> (port: UInt16, listener: Int32) {
        // Close-on-exec: tests spawn processes from other threads meanwhile (PostgreSQL, nginx,
        // products-server); an inherited descriptor would keep the connection open after close.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(listener >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && listen(listener, 64) == 0
                && getsockname(listener, $0, &length) == 0 }
        }
        try #require(bound)
        Thread.detachNewThread {
            while true {
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { return }
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)  // (accept4 is not visible to Swift; shutdown below covers the gap)
                let accepted = Date()
                Thread.detachNewThread {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    var seen: [UInt8] = []
                    var answered = 0
                    let answer = Array("HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".utf8)
                    while true {
                        let n = read(fd, &buffer, buffer.count)
                        guard n > 0 else { close(fd); return }
                        if answered == 0, let closeIdleAfter, Date().timeIntervalSince(accepted) > closeIdleAfter {
                            // shutdown ends the connection itself (FIN), whatever other process
                            // may hold a copy of the descriptor; close alone only drops ours.
                            shutdown(fd, Int32(SHUT_RDWR))
                            close(fd)
                            return
                        }
                        answered += 1
                        seen += buffer[0..<n]
                        while let end = seen.firstRange(of: Array("\r\n\r\n".utf8)) {
                            seen.removeSubrange(seen.startIndex..<end.upperBound)
                            usleep(delay)
                            _ = answer.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                        }
                    }
                }
            }
        }
        return (UInt16(bigEndian: address.sin_port), listener)
    }

    /// An open loop of styles requests from one thread over four connections to 127.0.0.1:port.
    static func run(port: UInt16, rate: Double, seconds: UInt64, timeoutSeconds: UInt64) throws -> LoadReport {
        try LoadTest.run(LoadTestConfiguration(
            url: try TargetURL("http://127.0.0.1:\(port)"), workload: .single(.styles), distribution: .uniform,
            maxId: 100, rate: rate, duration: seconds * 1_000_000_000, warmup: 0, timeout: timeoutSeconds * 1_000_000_000,
            connections: 4, threads: 1, headers: [], allow404: false, seed: 1))
    }

    @Test func refusalsAreTimedFromTheFirstWriteToTheirArrival() throws {
        let (port, listener) = try Self.server(delay: 20_000)   // 20 ms
        defer { close(listener) }
        let report = try Self.run(port: port, rate: 40, seconds: 1, timeoutSeconds: 2)
        let refused = try #require(report.statusCounts["503"])
        // Every 503 has an arrival time: the kernel stamped the answers (SO_TIMESTAMPNS) and the
        // generator read the stamps.
        let wire = try #require(report.refusedWireLatencyUs)
        let service = try #require(report.refusedServiceLatencyUs)
        #expect(refused >= 30 && wire.count == UInt64(refused) && service.count == wire.count)
        // At the socket no sooner than the server answered, and no later than the generator read it.
        #expect(wire.p50 >= 19_000 && wire.p50 < 200_000)   // µs
        #expect(wire.max <= service.max + 1_000 && wire.p50 <= service.p50 + 1_000)
    }

    /// Four connections open at once; answers take 1.6 s and one request is due every 0.5 s,
    /// so the fourth request finds no connection that has answered yet and goes out on one
    /// that opened ~1.5 s before, which the server closes then as idle. The request is resent
    /// on a new connection (as after a keep-alive close), not counted as a socket error.
    @Test func aRequestOnAConnectionClosedAsIdleIsResentOnce() throws {
        let (port, listener) = try Self.server(status: "200 OK", delay: 1_600_000, closeIdleAfter: 1.1)
        defer { close(listener) }
        let report = try Self.run(port: port, rate: 2, seconds: 2, timeoutSeconds: 5)
        #expect(report.errors.socket == 0)
        #expect(report.errors.retries >= 1)
        #expect(report.ok == 4 && report.connectionsOpened >= 5)
    }
}
