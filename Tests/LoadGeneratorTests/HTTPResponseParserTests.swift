import Testing
@testable import LoadGenerator

/// Feeds `bytes` to a parser in pieces cut at `cuts`; returns the parser and what the last
/// parse call returned.
private func feed(_ text: String, cuts: [Int] = []) throws -> (HTTPResponseParser, Int?) {
    let bytes = Array(text.utf8)
    var parser = HTTPResponseParser()
    var result: Int?
    var start = 0
    for end in cuts + [bytes.count] where end > start || end == bytes.count {
        result = try bytes[start..<end].withUnsafeBytes { try parser.parse($0) }
        if result != nil {
            return (parser, start + result!)   // offset in the whole text
        }
        start = end
    }
    return (parser, nil)
}

@Suite struct HTTPResponseParserTests {
    static let contentLength = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\n"
        + "Content-Length: 13\r\nX-Cache-Status: HIT\r\n\r\n{\"id\": 12345}"

    static let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n"
        + "x-cache-status: miss\r\n\r\n"
        + "7\r\n{\"id\": \r\n" + "6;ext=1\r\n12345}\r\n" + "0\r\nX-Trailer: yes\r\n\r\n"

    @Test func contentLengthBodyInOnePiece() throws {
        let (parser, used) = try feed(Self.contentLength)
        #expect(used == Self.contentLength.utf8.count)
        #expect(parser.isComplete)
        #expect(parser.head == HTTPResponseHead(status: 200, contentLength: 13, chunked: false, keepAlive: true, cacheStatus: .hit))
        #expect(parser.bodyBytes == 13)
    }

    @Test func contentLengthSplitAtEveryByte() throws {
        let total = Self.contentLength.utf8.count
        for cut in 1..<total {
            let (parser, used) = try feed(Self.contentLength, cuts: [cut])
            #expect(used == total, "cut at \(cut)")
            #expect(parser.head?.status == 200)
            #expect(parser.bodyBytes == 13)
        }
        // One byte at a time.
        let (parser, used) = try feed(Self.contentLength, cuts: Array(1..<total))
        #expect(used == total)
        #expect(parser.head?.cacheStatus == .hit)
    }

    @Test func chunkedBodyWithExtensionsAndTrailersSplitAnywhere() throws {
        let total = Self.chunked.utf8.count
        for cut in 0..<total {
            let (parser, used) = try feed(Self.chunked, cuts: cut == 0 ? [] : [cut])
            #expect(used == total, "cut at \(cut)")
            #expect(parser.head?.chunked == true)
            #expect(parser.head?.cacheStatus == .miss)
            #expect(parser.bodyBytes == 13)
        }
        let (parser, used) = try feed(Self.chunked, cuts: Array(1..<total))
        #expect(used == total)
        #expect(parser.bodyBytes == 13)
    }

    @Test func incompleteResponsesNeedMore() throws {
        let text = Self.contentLength
        let (p1, used1) = try feed(String(text.dropLast(1)))
        #expect(used1 == nil)
        #expect(!p1.isComplete)
        #expect(p1.hasStarted)
        let (p2, used2) = try feed(String(Self.chunked.dropLast(2)))
        #expect(used2 == nil)
        #expect(!p2.isComplete)
        #expect(!HTTPResponseParser().hasStarted)
    }

    @Test func keepAliveAndClose() throws {
        let close = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        #expect(try feed(close).0.head?.keepAlive == false)
        #expect(try feed(close).0.head?.status == 404)
        let http10 = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
        #expect(try feed(http10).0.head?.keepAlive == false)
        let http10KeepAlive = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"
        #expect(try feed(http10KeepAlive).0.head?.keepAlive == true)
        let tokens = "HTTP/1.1 200 OK\r\nConnection: upgrade, Close\r\nContent-Length: 0\r\n\r\n"
        #expect(try feed(tokens).0.head?.keepAlive == false)
    }

    @Test func twoResponsesBackToBackOnOneConnection() throws {
        // After the first completes the parser says how much it used; reset() reads the second.
        let both = Array((Self.contentLength + Self.chunked).utf8)
        var parser = HTTPResponseParser()
        let first = try both.withUnsafeBytes { try parser.parse($0) }
        #expect(first == Self.contentLength.utf8.count)
        parser.reset()
        let second = try both[first!...].withUnsafeBytes { try parser.parse($0) }
        #expect(second == Self.chunked.utf8.count)
        #expect(parser.head?.chunked == true)
    }

    @Test func bodyUntilCloseCompletesAtEOF() throws {
        var (parser, used) = try feed("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc")
        #expect(used == nil)
        #expect(parser.bodyBytes == 3)
        let completeAtEOF = parser.finishAtEOF()
        #expect(completeAtEOF)
        // A Content-Length body cut short is not complete at EOF.
        var (cut, _) = try feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        let cutCompletes = cut.finishAtEOF()
        #expect(!cutCompletes)
    }

    @Test func noBodyStatusesAndInformationalResponses() throws {
        let noContent = "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\n\r\n"
        #expect(try feed(noContent).1 == noContent.utf8.count)
        let continued = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]"
        let (parser, used) = try feed(continued, cuts: [10, 26])
        #expect(used == continued.utf8.count)
        #expect(parser.head?.status == 200)
    }

    @Test func cacheStatusValues() throws {
        for (value, status) in [("HIT", CacheStatus.hit), ("MISS", .miss), ("EXPIRED", .expired), ("STALE", .stale),
                                ("UPDATING", .updating), ("REVALIDATED", .revalidated), ("BYPASS", .bypass),
                                ("hit", .hit), ("WEIRD", .other)] {
            let text = "HTTP/1.1 200 OK\r\nX-Cache-Status:  \(value) \r\nContent-Length: 0\r\n\r\n"
            #expect(try feed(text).0.head?.cacheStatus == status, "\(value)")
        }
        let none = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        #expect(try feed(none).0.head?.cacheStatus == .absent)
    }

    @Test func malformedResponsesThrow() {
        #expect(throws: HTTPParseError.badStatusLine) { try feed("HTTP/2 200\r\n\r\n") }
        #expect(throws: HTTPParseError.badStatusLine) { try feed("SSH-2.0-OpenSSH\r\n\r\n") }
        #expect(throws: HTTPParseError.badContentLength) { try feed("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n") }
        #expect(throws: HTTPParseError.badContentLength) {
            try feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        }
        #expect(throws: HTTPParseError.badChunk) { try feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") }
        #expect(throws: HTTPParseError.badChunk) {
            try feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n")
        }
        #expect(throws: HTTPParseError.badHeader) { try feed("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n") }
    }

    @Test func chunkedWinsOverContentLength() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
        let (parser, used) = try feed(text)
        #expect(used == text.utf8.count)
        #expect(parser.head?.contentLength == nil)
        #expect(parser.bodyBytes == 2)
    }
}

@Suite struct HTTPRequestEncoderTests {
    @Test func requestsForEachRoute() throws {
        let encoder = HTTPRequestEncoder(target: try TargetURL("http://127.0.0.1:8080"), headers: ["X-Cache-Bypass: 1"])
        #expect(encoder.path(route: .product, target: 1_000_011) == "/products/1000011")
        #expect(encoder.path(route: .styles, target: 7) == "/products/7/styles")
        #expect(encoder.path(route: .related, target: 10) == "/products/10/related")
        #expect(encoder.path(route: .list, target: 3) == "/products?page=3&count=5")
        var out: [UInt8] = []
        encoder.encode(route: .styles, target: 42, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "GET /products/42/styles HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
            + "User-Agent: products-load\r\nAccept: application/json\r\nX-Cache-Bypass: 1\r\n\r\n")
        encoder.encode(route: .product, target: 0, into: &out)
        #expect(String(decoding: out, as: UTF8.self).hasPrefix("GET /products/0 HTTP/1.1\r\n"))
    }

    @Test func urls() throws {
        let plain = try TargetURL("http://localhost")
        #expect(plain.host == "localhost" && plain.port == 80 && plain.basePath == "" && plain.authority == "localhost")
        let based = try TargetURL("http://api.example:8081/v1/")
        #expect(based.port == 8081 && based.basePath == "/v1")
        #expect(HTTPRequestEncoder(target: based).path(route: .product, target: 1) == "/v1/products/1")
        let v6 = try TargetURL("http://[::1]:8080")
        #expect(v6.host == "::1" && v6.authority == "[::1]:8080")
        #expect(throws: LoadError.self) { try TargetURL("https://x") }
        #expect(throws: LoadError.self) { try TargetURL("http://x:port") }
        #expect(throws: LoadError.self) { try TargetURL("http://:80") }
    }
}
