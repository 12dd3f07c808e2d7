import Testing
@testable import ProductsAPI

/// Every row of docs/api.md's error table and every routing decision documented on `Router`.
@Suite struct RouterTests {
    let router = Router()

    func route(_ path: String, query: String = "", method: String = "GET") -> Result<Route, APIError> {
        router.route(method: method, path: path, query: query)
    }

    func errorCode(_ path: String, query: String = "", method: String = "GET") -> APIError.Code? {
        if case .failure(let error) = route(path, query: query, method: method) { return error.code }
        return nil
    }

    // MARK: - The routes

    @Test func productRoutes() {
        #expect(route("/products/1") == .success(.product(id: 1)))
        #expect(route("/products/11/styles") == .success(.styles(id: 11)))
        #expect(route("/products/65635/related") == .success(.related(id: 65635)))
        #expect(route("/products/2147483647") == .success(.product(id: 2147483647)))
    }

    @Test func healthChecks() {
        #expect(route("/_health/live") == .success(.live))
        #expect(route("/_health/ready") == .success(.ready))
        #expect(route("/_health/ready/") == .success(.ready))
        #expect(route("/_health/ready", query: "x=1") == .success(.ready))
        #expect(route("/_health/live", method: "HEAD") == .success(.live))
        #expect(Route.live.isHealthCheck && Route.ready.isHealthCheck && !Route.styles(id: 1).isHealthCheck)
        for path in ["/_health", "/_health/", "/_health/nginx", "/_health/live/x", "/_Health/live", "/_health//live"] {
            #expect(errorCode(path) == .routeNotFound, "\(path)")
        }
        #expect(errorCode("/_health/live", method: "POST") == .methodNotAllowed)
    }

    @Test func statusPage() {
        #expect(route("/_status") == .success(.status(.text)))
        #expect(route("/_status/") == .success(.status(.text)))
        #expect(route("/_status", query: "full") == .success(.status(.text)))
        #expect(route("/_status", query: "openmetrics") == .success(.status(.openMetrics)))
        #expect(route("/_status", query: "format=openmetrics") == .success(.status(.openMetrics)))
        #expect(route("/_status", query: "format=%6Fpenmetrics") == .success(.status(.openMetrics)))
        #expect(route("/_status", query: "format=text") == .success(.status(.text)))
        #expect(route("/_status", method: "HEAD") == .success(.status(.text)))
        #expect(Route.status(.text).isHealthCheck)
        for path in ["/_status/x", "/_Status", "/_statusx"] {
            #expect(errorCode(path) == .routeNotFound, "\(path)")
        }
        #expect(errorCode("/_status", method: "POST") == .methodNotAllowed)
    }

    @Test func listDefaults() {
        #expect(route("/products") == .success(.list(page: 1, count: 5)))
        #expect(route("/products", query: "page=1&count=5") == .success(.list(page: 1, count: 5)))
        #expect(route("/products", query: "page=3") == .success(.list(page: 3, count: 5)))
        #expect(route("/products", query: "count=20") == .success(.list(page: 1, count: 20)))
        #expect(route("/products", query: "count=20&page=7") == .success(.list(page: 7, count: 20)))
        #expect(route("/products", query: "count=1000") == .success(.list(page: 1, count: 1000)))
        #expect(route("/products", query: "count=1") == .success(.list(page: 1, count: 1)))
    }

    @Test func constants() {
        #expect(Router.defaultPage == 1)
        #expect(Router.defaultCount == 5)
        #expect(Router.maximumCount == 1000)
    }

    // MARK: - 400: :product_id not decimal digits, or outside 1...2147483647

    @Test(arguments: [
        "abc", "0", "-1", "99999999999", "1.5", "2147483648", "4294967297", "+1", " 1", "1 ", "1a",
        "0x10", "1e3", "%31", "%2F", " ", "1?x=y", "１", "٣", "00000000000000000000000000", "-0", "1,2", "99999999999999999999999999999",
    ])
    func invalidProductID(_ id: String) {
        // The path arrives decoded from nginx: anything left that is not a digit is a bad id
        // (`%31` here is the literal three characters, from a request for `/products/%2531`).
        for suffix in ["", "/styles", "/related"] {
            let result = route("/products/\(id)\(suffix)")
            #expect(result == .failure(.invalidProductID), "\(id)\(suffix)")
        }
    }

    @Test func invalidProductIDIs400WithAHumanMessage() throws {
        guard case .failure(let error) = route("/products/abc") else { Issue.record("expected an error"); return }
        #expect(error.status == .badRequest)
        #expect(error.status.code == 400)
        #expect(error.message.contains("1 to 2147483647"))
    }

    @Test func leadingZerosAreTheSameID() {
        #expect(route("/products/007") == .success(.product(id: 7)))
        #expect(route("/products/0000000000000000000001/styles") == .success(.styles(id: 1)))
        #expect(route("/products/02147483647") == .success(.product(id: 2147483647)))
    }

    @Test func idChecksComeAfterThePathShape() {
        // A malformed id under an unknown sub-route is an unknown path, not a bad id.
        #expect(errorCode("/products/abc/reviews") == .routeNotFound)
        #expect(errorCode("/products/abc/styles/x") == .routeNotFound)
    }

    // MARK: - 400: page / count

    @Test(arguments: [
        "page=abc", "page=0", "page=-1", "page=1.5", "page=", "page", "page=+1", "page=%2B1", "page=1+",
        "page=%20", "page= 1", "page=1e3", "page=0x1", "page=%zz", "page=%3", "page=1%", "page=00",
        "page=1=1", "page=１", "page=1&count=5&page=2", "page=1&page=1", "page=-99999999999999999999999",
    ])
    func invalidPage(_ query: String) {
        #expect(errorCode("/products", query: query) == .invalidPage, "\(query)")
    }

    @Test(arguments: [
        "count=abc", "count=0", "count=-1", "count=1001", "count=1.5", "count=", "count", "count=+5",
        "count=99999999999999999999999999", "count=2147483648", "count=5&count=5", "count=5&count=6",
        "count=5,6", "count=%35%30%30%31", "count=1000.0",
    ])
    func invalidCount(_ query: String) {
        #expect(errorCode("/products", query: query) == .invalidCount, "\(query)")
    }

    @Test func pageAndCountErrorsAre400() {
        for query in ["page=0", "count=0", "page=x", "count=x", "page=1&page=2", "count=1&count=2"] {
            guard case .failure(let error) = route("/products", query: query) else {
                Issue.record("\(query) should fail"); continue
            }
            #expect(error.status == .badRequest, "\(query)")
        }
    }

    @Test func pageIsReportedBeforeCount() {
        #expect(errorCode("/products", query: "count=0&page=0") == .invalidPage)
        #expect(errorCode("/products", query: "count=1&count=2&page=1&page=2") == .invalidPage)
        #expect(errorCode("/products", query: "page=2&count=0") == .invalidCount)
    }

    @Test func repeatedParametersHaveTheirOwnMessage() {
        guard case .failure(let error) = route("/products", query: "page=1&page=2") else { Issue.record(); return }
        #expect(error == .repeatedPage)
        #expect(error.message.contains("at most once"))
        #expect(route("/products", query: "count=1&count=1") == .failure(.repeatedCount))
    }

    // MARK: - Query decisions

    @Test func hugePagesAreValidAndSaturate() {
        #expect(route("/products", query: "page=2147483647&count=1000") == .success(.list(page: 2147483647, count: 1000)))
        #expect(route("/products", query: "page=99999999999999999999999999999") == .success(.list(page: Int.max, count: 5)))
        #expect(route("/products", query: "page=9223372036854775807") == .success(.list(page: Int.max, count: 5)))
        #expect(route("/products", query: "page=9223372036854775808") == .success(.list(page: Int.max, count: 5)))
    }

    @Test func leadingZerosInPageAndCount() {
        #expect(route("/products", query: "page=002&count=0010") == .success(.list(page: 2, count: 10)))
        #expect(route("/products", query: "count=01000") == .success(.list(page: 1, count: 1000)))
    }

    @Test func percentEncodingIsDecoded() {
        #expect(route("/products", query: "page=%32&count=%31%30") == .success(.list(page: 2, count: 10)))
        #expect(route("/products", query: "pa%67e=3") == .success(.list(page: 3, count: 5)))
        #expect(route("/products", query: "%70%61%67%65=4") == .success(.list(page: 4, count: 5)))
        #expect(route("/products", query: "cou%6Et=7") == .success(.list(page: 1, count: 7)))
        #expect(route("/products", query: "cou%6et=7") == .success(.list(page: 1, count: 7)))
        // Encoded separators are data, not separators.
        #expect(errorCode("/products", query: "page=1%26count%3D9") == .invalidPage)
    }

    @Test func unknownParametersAreIgnored() {
        #expect(route("/products", query: "_=1712345678901") == .success(.list(page: 1, count: 5)))
        #expect(route("/products", query: "utm_source=x&page=2&sort=desc&count=3&x") == .success(.list(page: 2, count: 3)))
        #expect(route("/products", query: "Page=abc&COUNT=0&pages=0&counts=x") == .success(.list(page: 1, count: 5)))
        #expect(route("/products", query: "pag%zz=1") == .success(.list(page: 1, count: 5)))
        #expect(route("/products", query: "a=%&b=%%&c=%zz") == .success(.list(page: 1, count: 5)))
        #expect(route("/products", query: "x=1&x=2") == .success(.list(page: 1, count: 5)))
    }

    @Test func emptyPairsAreSkipped() {
        #expect(route("/products", query: "&&page=2&&count=3&") == .success(.list(page: 2, count: 3)))
        #expect(route("/products", query: "&") == .success(.list(page: 1, count: 5)))
        #expect(route("/products", query: "=") == .success(.list(page: 1, count: 5)))
        #expect(route("/products", query: "=5") == .success(.list(page: 1, count: 5)))
    }

    @Test func absentQueryMeansDefaults() {
        let path = Array("/products".utf8)
        let result = path.withUnsafeBytes { router.route(method: .get, path: $0, query: nil) }
        #expect(result == .success(.list(page: 1, count: 5)))
    }

    @Test func queryIsIgnoredOnPerProductRoutes() {
        #expect(route("/products/1", query: "page=abc&count=0") == .success(.product(id: 1)))
        #expect(route("/products/1/styles", query: "page=1&page=2") == .success(.styles(id: 1)))
        #expect(route("/products/1/related", query: "%zz") == .success(.related(id: 1)))
    }

    // MARK: - 404: any other path

    @Test(arguments: [
        "/", "", "products", "/product", "/products1", "/Products", "/PRODUCTS/1", "/products/1/Styles",
        "/products/1/style", "/products/1/reviews", "/products/1/styles/extra", "/products/1/related/2",
        "/products//1", "/products/1//", "/products//", "//products", "/products/1/styles//",
        "/api/products", "/products/1/styles/1", "/favicon.ico", "/products/1/%73tyles", "/products?page=1",
    ])
    func unknownPathIs404(_ path: String) {
        #expect(route(path) == .failure(.routeNotFound), "\(path)")
    }

    @Test func unknownPathIs404WithAHumanMessage() {
        guard case .failure(let error) = route("/nope") else { Issue.record(); return }
        #expect(error.status == .notFound)
        #expect(error.message.contains("/products/:product_id"))
    }

    @Test func oneTrailingSlashIsTolerated() {
        #expect(route("/products/") == .success(.list(page: 1, count: 5)))
        #expect(route("/products/", query: "page=2") == .success(.list(page: 2, count: 5)))
        #expect(route("/products/1/") == .success(.product(id: 1)))
        #expect(route("/products/1/styles/") == .success(.styles(id: 1)))
        #expect(route("/products/1/related/") == .success(.related(id: 1)))
        #expect(route("/products/abc/") == .failure(.invalidProductID))
    }

    @Test func absentPathIs404() {
        let result = router.route(method: .get, path: nil, query: nil)
        #expect(result == .failure(.routeNotFound))
    }

    // MARK: - 405: a method other than GET / HEAD

    @Test(arguments: ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "get", "Get", "head", "", "GET "])
    func otherMethodsAre405(_ method: String) {
        guard case .failure(let error) = route("/products/1", method: method) else {
            Issue.record("\(method) should be 405"); return
        }
        #expect(error == .methodNotAllowed)
        #expect(error.status.code == 405)
        #expect(error.allow == "GET, HEAD")
    }

    @Test func methodIsCheckedBeforeThePath() {
        #expect(errorCode("/nope", method: "POST") == .methodNotAllowed)
        #expect(errorCode("/products/abc", method: "DELETE") == .methodNotAllowed)
        #expect(errorCode("/products", query: "page=0", method: "PUT") == .methodNotAllowed)
    }

    @Test func absentMethodIs405() {
        #expect(RequestMethod(nil as UnsafeRawBufferPointer?) == .other)
        let path = Array("/products/1".utf8)
        let result = path.withUnsafeBytes { router.route(method: RequestMethod(nil as UnsafeRawBufferPointer?), path: $0, query: nil) }
        #expect(result == .failure(.methodNotAllowed))
    }

    @Test func headRoutesLikeGet() {
        #expect(route("/products/1", method: "HEAD") == .success(.product(id: 1)))
        #expect(route("/products", query: "page=2", method: "HEAD") == .success(.list(page: 2, count: 5)))
        #expect(errorCode("/products/abc", method: "HEAD") == .invalidProductID)
        #expect(errorCode("/nope", method: "HEAD") == .routeNotFound)
    }

    // MARK: - Internals

    @Test func percentDecoding() {
        func decode(_ s: String) -> [UInt8] {
            let bytes = Array(s.utf8)
            return bytes.withUnsafeBytes { Array(PercentDecodedBytes($0[...])) }
        }
        #expect(decode("a%20b+c") == Array("a b c".utf8))
        #expect(decode("%41%4a%4A%7e") == Array("AJJ~".utf8))
        #expect(decode("%") == Array("%".utf8))
        #expect(decode("%4") == Array("%4".utf8))
        #expect(decode("%g1%1") == Array("%g1%1".utf8))
        #expect(decode("%%41") == Array("%A".utf8))
        #expect(decode("%FF") == [0xFF])
        #expect(decode("") == [])
    }

    @Test func decimalParser() {
        func parse(_ s: String) -> Int? { DecimalParser.saturating(Array(s.utf8)) }
        #expect(parse("0") == 0)
        #expect(parse("42") == 42)
        #expect(parse("") == nil)
        #expect(parse("4 2") == nil)
        #expect(parse("9223372036854775807") == Int.max)
        #expect(parse("9223372036854775808") == Int.max)
        #expect(parse("92233720368547758070") == Int.max)
        #expect(parse(String(repeating: "9", count: 500)) == Int.max)
        #expect(parse(String(repeating: "9", count: 500) + "x") == nil)
    }
}
