/// Maps a request's method, path and query string to a ``Route`` or an ``APIError``.
///
/// A plain value with no I/O (the hummingbird state-machine idea): the worker hands it the
/// FastCGI parameters as borrowed bytes and switches on the result, so every rule below is
/// unit-tested without a socket. It allocates nothing.
///
/// The rules, in the order they are checked (the first failing one answers):
///
/// 1. **Method.** GET and HEAD are served; any other method, on any path, is 405 with
///    `Allow: GET, HEAD`. Methods are case-sensitive (`get` is 405).
/// 2. **Path.** The path is taken literally, as nginx passes it in `DOCUMENT_URI` (nginx has
///    already percent-decoded it, resolved `.`/`..` and, with its default `merge_slashes on`,
///    merged `//`; it is not decoded again here). Routes are `/products`,
///    `/products/:product_id`, `/products/:product_id/styles`,
///    `/products/:product_id/related`, case-sensitive. One trailing slash is tolerated
///    (`/products/1/` is `/products/1`, `/products/` is the list), like the legacy service's
///    Express routing. An empty segment (`/products//1`, `/products/1//`) or any other path is
///    404.
/// 3. **Product id.** ASCII decimal digits only (no sign, no spaces, no `.`), value in
///    1...2147483647, else 400; leading zeros are allowed (`007` is 7). A malformed id is 400
///    on all three per-product routes.
/// 4. **Query, per-product routes.** Ignored entirely.
/// 5. **Query, list.** `application/x-www-form-urlencoded` as browsers write it: pairs split
///    on `&` (empty pairs skipped), name and value split at the first `=`, both
///    percent-decoded with `+` as space (an invalid `%` escape stays literal, as in the WHATWG
///    URL standard), names case-sensitive. Unknown names (`_`, `utm_source`, ...) are ignored.
///    `page` and `count` must be ASCII decimal digits after decoding (`%31` is `1`; `+1`, `-1`,
///    ` 1`, `1.0`, `1e3`, `0x10` are not); an empty value (`count=`, or a bare `count`) is
///    400; a name given twice (`page=1&page=2`) is 400, even with equal values. `page`
///    (default 1) must be at least 1; a page too large for any integer is simply past the end
///    (`[]`). `count` (default 5) must be in 1...1000. When both are wrong, `page` is
///    reported.
/// 6. **Health checks** (not part of the legacy API): `/_health/live` and `/_health/ready`,
///    exactly (query ignored), for load balancers and monitoring. nginx forwards `/_health/`
///    from trusted addresses only (nginx/conf.d/products.conf); to anyone else it is 404.
/// 7. **Status** (not part of the legacy API): `/_status`, exactly; `?openmetrics` (or
///    `?format=openmetrics`) for Prometheus, plain text otherwise. Trusted addresses only, as
///    the health checks.
public struct Router: Sendable {
    public static let defaultPage = 1
    public static let defaultCount = 5
    public static let maximumCount = 1000

    public init() {}

    /// Routes a request. `path` is the URL path without the query (`nil`: none at all, 404);
    /// `query` is the raw query string without the `?` (`nil` or empty: no parameters).
    public func route(
        method: RequestMethod,
        path: UnsafeRawBufferPointer?,
        query: UnsafeRawBufferPointer?
    ) -> Result<Route, APIError> {
        guard method != .other else { return .failure(.methodNotAllowed) }
        guard let path else { return .failure(.routeNotFound) }
        return routePath(path[...], query: query)
    }

    /// Convenience for tests and tools: the same rules, from Strings.
    public func route(method: String, path: String, query: String = "") -> Result<Route, APIError> {
        var path = path
        var query = query
        return path.withUTF8 { p in
            query.withUTF8 { q in
                route(method: RequestMethod(method), path: UnsafeRawBufferPointer(p), query: UnsafeRawBufferPointer(q))
            }
        }
    }

    private func routePath(_ path: Slice<UnsafeRawBufferPointer>, query: UnsafeRawBufferPointer?) -> Result<Route, APIError> {
        guard path.first == ASCII.slash else { return .failure(.routeNotFound) }
        var rest = path.dropFirst()
        if rest.last == ASCII.slash { rest = rest.dropLast() }  // one trailing slash

        // Up to three segments: "products" [id ["styles" | "related"]].
        var segments = SegmentIterator(rest)
        guard let first = segments.next() else { return .failure(.routeNotFound) }
        if first.elementsEqual("_health".utf8) { return healthRoute(&segments) }
        if first.elementsEqual("_status".utf8) {
            guard segments.next() == nil else { return .failure(.routeNotFound) }
            return .success(.status(Self.statusFormat(query: query)))
        }
        guard first.elementsEqual("products".utf8) else { return .failure(.routeNotFound) }
        guard let idSegment = segments.next() else {
            return listRoute(query: query)
        }
        let action = segments.next()
        guard segments.next() == nil else { return .failure(.routeNotFound) }
        let make: (Int32) -> Route
        switch action {
        case nil: make = Route.product(id:)
        case let s? where s.elementsEqual("styles".utf8): make = Route.styles(id:)
        case let s? where s.elementsEqual("related".utf8): make = Route.related(id:)
        default: return .failure(.routeNotFound)
        }
        // An empty segment is a path-shape problem (`//`), not a malformed id.
        guard !idSegment.isEmpty else { return .failure(.routeNotFound) }
        guard let id = DecimalParser.productID(idSegment) else { return .failure(.invalidProductID) }
        return .success(make(id))
    }

    private func healthRoute(_ segments: inout SegmentIterator) -> Result<Route, APIError> {
        let check = segments.next()
        guard segments.next() == nil, let check else { return .failure(.routeNotFound) }
        if check.elementsEqual("live".utf8) { return .success(.live) }
        if check.elementsEqual("ready".utf8) { return .success(.ready) }
        return .failure(.routeNotFound)
    }

    /// `openmetrics` or `format=openmetrics` among the query's names: OpenMetrics; else text.
    private static func statusFormat(query: UnsafeRawBufferPointer?) -> StatusFormat {
        guard let query else { return .text }
        var pairs = QueryPairIterator(query[...])
        while let (name, value) = pairs.next() {
            if PercentDecoding.decodedEquals(name, "openmetrics") { return .openMetrics }
            if PercentDecoding.decodedEquals(name, "format"), PercentDecoding.decodedEquals(value, "openmetrics") {
                return .openMetrics
            }
        }
        return .text
    }

    private func listRoute(query: UnsafeRawBufferPointer?) -> Result<Route, APIError> {
        var page: Slice<UnsafeRawBufferPointer>?
        var count: Slice<UnsafeRawBufferPointer>?
        var pageRepeated = false
        var countRepeated = false
        if let query {
            var pairs = QueryPairIterator(query[...])
            while let (name, value) = pairs.next() {
                if PercentDecoding.decodedEquals(name, "page") {
                    if page != nil { pageRepeated = true }
                    page = value
                } else if PercentDecoding.decodedEquals(name, "count") {
                    if count != nil { countRepeated = true }
                    count = value
                }
            }
        }

        var pageNumber = Router.defaultPage
        if pageRepeated { return .failure(.repeatedPage) }
        if let page {
            guard let n = DecimalParser.saturating(PercentDecodedBytes(page)), n >= 1 else {
                return .failure(.invalidPage)
            }
            pageNumber = n
        }

        var countNumber = Router.defaultCount
        if countRepeated { return .failure(.repeatedCount) }
        if let count {
            guard let n = DecimalParser.saturating(PercentDecodedBytes(count)), (1...Router.maximumCount).contains(n) else {
                return .failure(.invalidCount)
            }
            countNumber = n
        }
        return .success(.list(page: pageNumber, count: countNumber))
    }
}

enum ASCII {
    static let slash = UInt8(ascii: "/")
    static let ampersand = UInt8(ascii: "&")
    static let equals = UInt8(ascii: "=")
    static let percent = UInt8(ascii: "%")
    static let plus = UInt8(ascii: "+")
    static let space = UInt8(ascii: " ")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
    static let quote = UInt8(ascii: "\"")
    static let comma = UInt8(ascii: ",")
    static let tab = UInt8(ascii: "\t")
    static let star = UInt8(ascii: "*")
}

/// Splits on `/`, keeping empty segments (so `//` can be told apart).
struct SegmentIterator: IteratorProtocol {
    private var rest: Slice<UnsafeRawBufferPointer>
    private var done = false

    init(_ path: Slice<UnsafeRawBufferPointer>) { rest = path }

    mutating func next() -> Slice<UnsafeRawBufferPointer>? {
        if done { return nil }
        if let slash = rest.firstIndex(of: ASCII.slash) {
            let segment = rest[..<slash]
            rest = rest[rest.index(after: slash)...]
            return segment
        }
        done = true
        return rest
    }
}

/// `name=value` pairs of a query string, raw (not yet decoded). Empty pairs are skipped; a
/// pair without `=` has an empty value.
struct QueryPairIterator: IteratorProtocol {
    private var rest: Slice<UnsafeRawBufferPointer>

    init(_ query: Slice<UnsafeRawBufferPointer>) { rest = query }

    mutating func next() -> (name: Slice<UnsafeRawBufferPointer>, value: Slice<UnsafeRawBufferPointer>)? {
        while !rest.isEmpty {
            let pair: Slice<UnsafeRawBufferPointer>
            if let amp = rest.firstIndex(of: ASCII.ampersand) {
                pair = rest[..<amp]
                rest = rest[rest.index(after: amp)...]
            } else {
                pair = rest
                rest = rest[rest.endIndex...]
            }
            if pair.isEmpty { continue }
            if let eq = pair.firstIndex(of: ASCII.equals) {
                return (pair[..<eq], pair[pair.index(after: eq)...])
            }
            return (pair, pair[pair.endIndex...])
        }
        return nil
    }
}

/// The bytes of a `x-www-form-urlencoded` component, decoded lazily: `%XX` (hex, either case)
/// is one byte, `+` is a space, an invalid escape stays as it is.
struct PercentDecodedBytes: Sequence, IteratorProtocol {
    private var rest: Slice<UnsafeRawBufferPointer>

    init(_ raw: Slice<UnsafeRawBufferPointer>) { rest = raw }

    mutating func next() -> UInt8? {
        guard let byte = rest.first else { return nil }
        let start = rest.startIndex
        if byte == ASCII.plus {
            rest = rest.dropFirst()
            return ASCII.space
        }
        if byte == ASCII.percent, rest.count >= 3,
           let high = Self.hexValue(rest[start + 1]), let low = Self.hexValue(rest[start + 2]) {
            rest = rest.dropFirst(3)
            return high << 4 | low
        }
        rest = rest.dropFirst()
        return byte
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

enum PercentDecoding {
    static func decodedEquals(_ raw: Slice<UnsafeRawBufferPointer>, _ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { PercentDecodedBytes(raw).elementsEqual($0) }
    }
}

enum DecimalParser {
    /// ASCII decimal digits (at least one) as an Int, saturating at `Int.max` instead of
    /// overflowing; `nil` if anything else is there.
    static func saturating<S: Sequence<UInt8>>(_ bytes: S) -> Int? {
        var value = 0
        var sawDigit = false
        for byte in bytes {
            guard byte >= ASCII.zero && byte <= ASCII.nine else { return nil }
            sawDigit = true
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(byte - ASCII.zero))
            value = (o1 || o2) ? Int.max : sum
        }
        return sawDigit ? value : nil
    }

    /// A product id: digits only, 1...2147483647.
    static func productID(_ bytes: Slice<UnsafeRawBufferPointer>) -> Int32? {
        guard let value = saturating(bytes), value >= 1, value <= Int(Int32.max) else { return nil }
        return Int32(value)
    }
}
