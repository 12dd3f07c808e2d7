import FastCGI
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The libfcgi wrapper as the worker uses it (a connection lent with `accept(connection:)`),
/// over a socketpair: the test plays nginx with TestSupport's FastCGIClient.
@Suite struct FastCGIRequestTests {
    /// A connected pair: the client's end, the server's end.
    func pair() throws -> (FastCGIClient, Int32) {
        var fds: [Int32] = [-1, -1]
        let rc = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        try #require(rc == 0, "socketpair: errno \(errno)")
        return (FastCGIClient(connected: fds[0]), fds[1])
    }

    @Test func aRequestsParametersAndTheResponseOnAKeptConnection() throws {
        let (client, server) = try pair()
        let request = try FastCGIRequest(listeningSocket: -1)

        try client.send(FastCGIClient.get("/products/42/styles", keepConnection: true))
        #expect(request.accept(connection: server))
        #expect(request.param("REQUEST_METHOD") == "GET")
        #expect(request.param("NO_SUCH_PARAM") == nil)
        let target = request.withRequestTarget { method, path, query in
            [method, path, query].map { $0.map { String(decoding: $0, as: UTF8.self) } }
        }
        #expect(target == ["GET", "/products/42/styles", ""])
        try request.write(Array("Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{}".utf8))
        request.finish()
        // nginx asked to keep it: the connection is the caller's again, open.
        #expect(request.releaseConnection() == server)
        #expect(try client.readResponse() == "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{}")
        #expect(!client.isClosedByServer())

        // The next request on the same connection, this time without keep-alive: libfcgi
        // closes it after the response.
        try client.send(FastCGIClient.get("/products", keepConnection: false))
        #expect(request.accept(connection: server))
        #expect(request.withRequestTarget { _, path, _ in path.map { String(decoding: $0, as: UTF8.self) } } == "/products")
        try request.write(Array("Status: 404 Not Found\r\n\r\n".utf8))
        request.finish()
        #expect(request.releaseConnection() == -1)
        #expect(try client.readResponse() == "Status: 404 Not Found\r\n\r\n")
        #expect(client.isClosedByServer())
    }

    @Test func aConnectionThatIsNotFastCGIIsRefused() throws {
        let (client, server) = try pair()
        let request = try FastCGIRequest(listeningSocket: -1)
        // Version 9: not a FastCGI record. The peer then closes, so nothing can block.
        try client.send([9, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
        shutdown(client.fd, Int32(SHUT_WR))
        #expect(!request.accept(connection: server))
        #expect(request.lastAcceptStatus < 0)
        let left = request.releaseConnection()
        if left >= 0 { close(left) }
    }
}
