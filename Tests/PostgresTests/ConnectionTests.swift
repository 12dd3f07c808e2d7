import Foundation
import Postgres
import Testing
import TestSupport

@Suite("libpq wrapper against a real PostgreSQL")
struct ConnectionTests {
    let conninfo: String

    init() throws {
        conninfo = TestCluster.shared.conninfo(database: try TestCluster.shared.makeDatabase("pq"))
    }

    @Test func parametersAreSentApartFromTheSQL() throws {
        let c = try Connection(conninfo: conninfo)
        let hostile = "'); DROP TABLE x; --"
        let r = try c.execute("SELECT $1::text, $2::text IS NULL", [hostile, nil])
        #expect(r.string(row: 0, column: 0) == hostile)
        #expect(r.string(row: 0, column: 1) == "t")
    }

    @Test func preparedStatementsWithRawBytes() throws {
        let c = try Connection(conninfo: conninfo)
        try c.prepare("double", "SELECT ($1::int4 * 2)::text")
        // Binary format: an int4 is 4 bytes, big-endian.
        let bigEndian21: [CChar] = [0, 0, 0, 21]
        let r = try bigEndian21.withUnsafeBufferPointer { try c.executePrepared("double", parameter: $0) }
        #expect(r.string(row: 0, column: 0) == "42")
        let text = r.withBytes(row: 0, column: 0) { String(decoding: $0, as: UTF8.self) }
        #expect(text == "42")
        #expect(try c.executePrepared("double", ["5"]).int(row: 0, column: 0) == 10)
    }

    @Test func copyInStreamsRowsAndEscapes() throws {
        let c = try Connection(conninfo: conninfo)
        try c.execute("CREATE TABLE t (id int, s text)")
        let n = try c.copyIn("COPY t FROM STDIN") { (w: inout CopyWriter) throws in
            var line: [UInt8] = Array("1\t".utf8)
            Array("tab\there, back\\slash\nnewline".utf8).withUnsafeBytes { CopyText.appendEscaped($0, to: &line) }
            line.append(0x0A)
            line += Array("2\t".utf8) + CopyText.null + [0x0A]
            try w.write(line)
        }
        #expect(n == 2)
        #expect(try c.execute("SELECT s FROM t WHERE id = 1").string(row: 0, column: 0) == "tab\there, back\\slash\nnewline")
        #expect(try c.execute("SELECT s IS NULL FROM t WHERE id = 2").string(row: 0, column: 0) == "t")
    }

    @Test func aFailedCopyRollsBackAndTheConnectionStaysUsable() throws {
        let c = try Connection(conninfo: conninfo)
        try c.execute("CREATE TABLE u (id int)")
        #expect(throws: PostgresError.self) {
            try c.copyIn("COPY u FROM STDIN") { (w: inout CopyWriter) throws in try w.write(Array("1\nnot a number\n".utf8)) }
        }
        #expect(try c.execute("SELECT count(*) FROM u").int(row: 0, column: 0) == 0)
    }

    @Test func serverErrorsCarryTheSQLStateAndAGenericDescription() throws {
        let c = try Connection(conninfo: conninfo)
        let error = #expect(throws: PostgresError.self) { try c.execute("SELECT * FROM no_such_table") }
        #expect(error?.sqlState == "42P01")
        #expect(error?.description.contains("no_such_table") == false)
        #expect(error?.debugDescription.contains("no_such_table") == true)
        #expect(error?.isConnectionLoss == false)
    }

    @Test func aTerminatedBackendIsAConnectionLoss() throws {
        let c = try Connection(conninfo: conninfo)
        let admin = try Connection(conninfo: conninfo)
        try admin.execute("SELECT pg_terminate_backend($1)", [String(c.backendPID)])
        let error = #expect(throws: PostgresError.self) { try c.execute("SELECT 1") }
        #expect(error?.isConnectionLoss == true)
        #expect(c.isHealthy == false)
    }

    /// A backend that dies without a word (SIGKILL; under load, PostgreSQL's immediate
    /// shutdown looked the same to a worker sending its next query): libpq reports "server
    /// closed the connection unexpectedly" with no SQLSTATE while PQstatus may still say OK.
    /// That is a lost connection (reconnect, retry), not a server's verdict on the statement:
    /// Deploy/bench/chaos's pg-immediate fault got four 500s from it before.
    @Test func aBackendKilledWithoutAWordIsAConnectionLoss() throws {
        let cluster = try TestCluster(name: "pqkill")
        let c = try Connection(conninfo: cluster.conninfo(database: try cluster.makeDatabase("pq")))
        try c.prepare("one", "SELECT 1")
        #expect(kill(c.backendPID, SIGKILL) == 0)
        usleep(200_000)
        let error = #expect(throws: PostgresError.self) { try c.executePrepared("one", []) }
        #expect(error?.sqlState == nil, "\(String(describing: error?.debugDescription))")
        #expect(error?.isConnectionLoss == true, "\(String(describing: error?.debugDescription))")
        try? cluster.stop()
    }

    @Test func aFailedResultWithoutSQLStateIsAConnectionLoss() {
        #expect(PostgresError.Code.of(failedResultWithSQLState: "42P01", connectionHealthy: true) == .server)
        #expect(PostgresError.Code.of(failedResultWithSQLState: nil, connectionHealthy: true) == .connection)
        #expect(PostgresError.Code.of(failedResultWithSQLState: "57P01", connectionHealthy: false) == .connection)
        #expect(PostgresError(code: .of(failedResultWithSQLState: nil, connectionHealthy: true),
                              detail: "server closed the connection unexpectedly").isConnectionLoss)
    }

    /// A server that accepts and then closes the connection (one in the middle of shutting
    /// down) ends libpq's walk of a multi-host list; the error names that server, and putting it
    /// last (ConninfoHosts) reaches the next one. What the worker's reconnect relies on.
    @Test func aFailedAttemptNamesTheServerThatEndedItAndAvoidingItReachesTheNext() throws {
        let closer = try ClosingListener()
        let hosts = "host=127.0.0.1,\(TestCluster.shared.socketDirectory) port=\(closer.port),5432"
        let conninfo = hosts + " " + conninfo.split(separator: " ").filter { !$0.hasPrefix("host=") }.joined(separator: " ")
        let error = #expect(throws: PostgresError.self) { _ = try Connection(conninfo: conninfo) }
        #expect(error?.code == .connection)
        let failed = try #require(error?.failedServer)
        #expect(failed.host == "127.0.0.1" && failed.port == String(closer.port))
        let elsewhere = try #require(ConninfoHosts(conninfo: conninfo)?.overrides(avoiding: failed.host, port: failed.port))
        let c = try Connection(conninfo: conninfo, overrides: elsewhere)
        #expect(c.host == TestCluster.shared.socketDirectory)
    }

    @Test func unreachableServerIsAConnectionError() throws {
        let error = #expect(throws: PostgresError.self) {
            _ = try Connection(conninfo: "host=/nonexistent dbname=x connect_timeout=1")
        }
        #expect(error?.code == .connection)
    }
}

/// A TCP listener on 127.0.0.1 that closes every connection it accepts, at once.
private final class ClosingListener: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                shutdown(client, Int32(SHUT_RDWR))  // a copy inherited by a spawned child must not keep it open
                close(client)
            }
        }
    }

    deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}
