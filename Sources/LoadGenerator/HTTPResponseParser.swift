/// nginx's `X-Cache-Status` ($upstream_cache_status), or `.absent` when the response has none
/// (nginx answered without the upstream, or the microcache is not configured).
public enum CacheStatus: Int, CaseIterable, Sendable, CustomStringConvertible {
    case absent = 0, hit, miss, expired, stale, updating, revalidated, bypass, other

    public var description: String {
        switch self {
        case .absent: "absent"
        case .hit: "HIT"
        case .miss: "MISS"
        case .expired: "EXPIRED"
        case .stale: "STALE"
        case .updating: "UPDATING"
        case .revalidated: "REVALIDATED"
        case .bypass: "BYPASS"
        case .other: "other"
        }
    }

    init(value: ArraySlice<UInt8>) {
        self = CacheStatus.allCases.first { status in
            status != .absent && status != .other && HTTPResponseParser.equalsIgnoringCase(value, status.description)
        } ?? .other
    }
}

/// What a response's head says about it.
public struct HTTPResponseHead: Sendable, Equatable {
    public var status: Int
    public var contentLength: Int?
    public var chunked: Bool
    /// False when the server will close the connection after this response
    /// (`Connection: close`, or HTTP/1.0 without `Connection: keep-alive`).
    public var keepAlive: Bool
    public var cacheStatus: CacheStatus
}

public enum HTTPParseError: Error, Sendable, Equatable {
    case headTooLarge, badStatusLine, badHeader, badContentLength, badChunk, unexpectedData
}

/// An incremental HTTP/1.1 response parser for one request at a time on a keep-alive connection
/// (the generator never pipelines). Feed it whatever `recv` returned; it says when the response
/// is complete and how many bytes it used. Bodies are read fully and counted, not kept:
/// Content-Length, chunked (with trailers), or until the connection closes.
///
/// A pure value: no sockets, so every split of a response across reads is unit-tested.
public struct HTTPResponseParser: Sendable {
    enum State: Sendable, Equatable {
        case head
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case complete
    }

    static let maxHeadBytes = 64 * 1024
    static let maxLineBytes = 8 * 1024

    private(set) var state: State = .head
    private var headBytes: [UInt8] = []
    private var lineLength = 0          // bytes on the current head line, CR excluded
    private var line: [UInt8] = []      // a chunk-size or trailer line being collected
    public private(set) var head: HTTPResponseHead?
    /// Body bytes of the current response (chunk framing excluded).
    public private(set) var bodyBytes = 0

    public init() {
        headBytes.reserveCapacity(1024)
    }

    public var isComplete: Bool { state == .complete }
    /// True once any byte of the current response has arrived.
    public var hasStarted: Bool { state != .head || !headBytes.isEmpty }

    /// Ready for the next response on the same connection.
    public mutating func reset() {
        state = .head
        headBytes.removeAll(keepingCapacity: true)
        lineLength = 0
        line.removeAll(keepingCapacity: true)
        head = nil
        bodyBytes = 0
    }

    /// Consumes bytes. Returns the number of bytes used when the response completed within them
    /// (the rest belongs to no request: the caller treats it as a protocol error), or nil when
    /// all of them were used and more are needed.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            switch state {
            case .head:
                while i < n {
                    let b = bytes[i]
                    i += 1
                    headBytes.append(b)
                    if b == 0x0A {   // LF: an empty line ends the head
                        if lineLength == 0 {
                            try finishHead()
                            break
                        }
                        lineLength = 0
                    } else if b != 0x0D {
                        lineLength += 1
                    }
                }
                if state == .head && headBytes.count > Self.maxHeadBytes { throw .headTooLarge }
            case .body(let remaining):
                let take = min(remaining, n - i)
                i += take
                bodyBytes += take
                state = remaining == take ? .complete : .body(remaining: remaining - take)
            case .chunkData(let remaining):
                let take = min(remaining, n - i)
                i += take
                bodyBytes += take
                state = remaining == take ? .chunkDataEnd : .chunkData(remaining: remaining - take)
            case .untilClose:
                bodyBytes += n - i
                i = n
            case .chunkSize, .chunkDataEnd, .trailers:
                guard let text = try takeLine(bytes, &i) else { continue }
                try finishLine(text)
            case .complete:
                return i
            }
            if state == .complete { return i }
        }
        return state == .complete ? i : nil
    }

    /// The peer closed the connection: true if that completes the response (a body delimited by
    /// the close), false if the response was cut short.
    public mutating func finishAtEOF() -> Bool {
        if state == .untilClose { state = .complete }
        return state == .complete
    }

    // MARK: Head

    private mutating func finishHead() throws(HTTPParseError) {
        let parsed = try Self.parseHead(headBytes[...])
        headBytes.removeAll(keepingCapacity: true)
        lineLength = 0
        if parsed.status >= 100 && parsed.status < 200 && parsed.status != 101 {
            state = .head   // 100 Continue and friends: the real response follows
            return
        }
        head = parsed
        if parsed.status == 204 || parsed.status == 304 {
            state = .complete
        } else if parsed.chunked {
            state = .chunkSize
        } else if let length = parsed.contentLength {
            state = length == 0 ? .complete : .body(remaining: length)
        } else {
            state = .untilClose
        }
    }

    /// Status line and the headers the generator cares about.
    static func parseHead(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPResponseHead {
        var lines: [ArraySlice<UInt8>] = []
        var start = bytes.startIndex
        for i in bytes.indices where bytes[i] == 0x0A {
            var end = i
            if end > start && bytes[end - 1] == 0x0D { end -= 1 }
            lines.append(bytes[start..<end])
            start = i + 1
        }
        guard let statusLine = lines.first, statusLine.count >= 12 else { throw .badStatusLine }
        // HTTP/1.x SSS[ reason]
        let s = statusLine.startIndex
        guard statusLine.starts(with: "HTTP/1.".utf8), statusLine[s + 8] == 0x20 else { throw .badStatusLine }
        let minor = statusLine[s + 7]
        var status = 0
        for j in (s + 9)..<(s + 12) {
            let d = statusLine[j]
            guard d >= 0x30 && d <= 0x39 else { throw .badStatusLine }
            status = status * 10 + Int(d - 0x30)
        }
        var head = HTTPResponseHead(status: status, contentLength: nil, chunked: false,
                                    keepAlive: minor != 0x30, cacheStatus: .absent)
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: 0x3A) else { throw .badHeader }
            let name = line[line.startIndex..<colon]
            let value = trim(line[(colon + 1)...])
            if equalsIgnoringCase(name, "content-length") {
                guard !value.isEmpty, value.count <= 18 else { throw .badContentLength }
                var length = 0
                for d in value {
                    guard d >= 0x30 && d <= 0x39 else { throw .badContentLength }
                    length = length * 10 + Int(d - 0x30)
                }
                if let previous = head.contentLength, previous != length { throw .badContentLength }
                head.contentLength = length
            } else if equalsIgnoringCase(name, "transfer-encoding") {
                // The last coding decides; anything ending in "chunked" is chunked.
                head.chunked = value.count >= 7 && equalsIgnoringCase(value.suffix(7), "chunked")
            } else if equalsIgnoringCase(name, "connection") {
                for token in value.split(separator: 0x2C) {
                    let t = trim(token)
                    if equalsIgnoringCase(t, "close") { head.keepAlive = false }
                    if equalsIgnoringCase(t, "keep-alive") { head.keepAlive = true }
                }
            } else if equalsIgnoringCase(name, "x-cache-status") {
                head.cacheStatus = value.isEmpty ? .absent : CacheStatus(value: value)
            }
        }
        if head.chunked { head.contentLength = nil }   // RFC 9112 §6.3: chunked wins
        return head
    }

    // MARK: Chunked framing

    /// Collects one line (without CR LF); nil if the bytes ran out first.
    private mutating func takeLine(_ bytes: UnsafeRawBufferPointer, _ i: inout Int) throws(HTTPParseError) -> [UInt8]? {
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            if b == 0x0A {
                if line.last == 0x0D { line.removeLast() }
                let text = line
                line.removeAll(keepingCapacity: true)
                return text
            }
            line.append(b)
            if line.count > Self.maxLineBytes { throw .badChunk }
        }
        return nil
    }

    private mutating func finishLine(_ text: [UInt8]) throws(HTTPParseError) {
        switch state {
        case .chunkSize:
            var size = 0
            var digits = 0
            for b in text {
                let v: Int
                switch b {
                case 0x30...0x39: v = Int(b - 0x30)
                case 0x41...0x46: v = Int(b - 0x41 + 10)
                case 0x61...0x66: v = Int(b - 0x61 + 10)
                case 0x3B, 0x20, 0x09: v = -1   // ";ext" or whitespace ends the size
                default: throw .badChunk
                }
                if v < 0 { break }
                digits += 1
                guard digits <= 15 else { throw .badChunk }
                size = size * 16 + v
            }
            guard digits > 0 else { throw .badChunk }
            state = size == 0 ? .trailers : .chunkData(remaining: size)
        case .chunkDataEnd:
            guard text.isEmpty else { throw .badChunk }
            state = .chunkSize
        case .trailers:
            if text.isEmpty { state = .complete }
        default:
            break
        }
    }

    // MARK: Bytes

    static func trim(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var a = s.startIndex
        var b = s.endIndex
        while a < b && (s[a] == 0x20 || s[a] == 0x09) { a += 1 }
        while b > a && (s[b - 1] == 0x20 || s[b - 1] == 0x09) { b -= 1 }
        return s[a..<b]
    }

    /// ASCII case-insensitive comparison with a lowercase or uppercase literal.
    static func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ text: String) -> Bool {
        var it = bytes.makeIterator()
        for c in text.utf8 {
            guard let b = it.next() else { return false }
            if b | 0x20 != c | 0x20 { return false }
            // letters only differ in bit 0x20; for non-letters that bit is significant
            if !(c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) && b != c { return false }
        }
        return it.next() == nil
    }
}
