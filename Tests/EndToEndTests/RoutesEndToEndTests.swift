import Foundation
import Testing
import TestSupport

/// Every route and every row of docs/api.md's error table, through real nginx, real
/// products-server workers and a real PostgreSQL holding the real head rows.
@Suite("Routes end to end", .serialized)
struct RoutesEndToEndTests {
    static let stack: ProductsStack = ProductsStack.launch(name: "routes", data: .atelierHead, cache: false)

    var port: Int { Self.stack.port }

    func get(_ target: String, _ method: String = "GET", headers: [String: String] = [:]) throws -> HTTPResponse {
        try HTTP.request(port: port, method, target, headers: headers)
    }

    func expectJSONHeaders(_ r: HTTPResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r[header: "content-type"] == "application/json; charset=utf-8", sourceLocation: sourceLocation)
        #expect(r[header: "access-control-allow-origin"] == "*", sourceLocation: sourceLocation)
    }

    @Test func productList() throws {
        let r = try get("/products")
        #expect(r.status == 200)
        expectJSONHeaders(r)
        let list = try #require(try r.json() as? [[String: Any]])
        #expect(list.map { $0["id"] as? Int } == [1, 2, 3, 4, 5])
        #expect(list[0]["name"] as? String == "Camo Onesie")
        #expect(list[0]["default_price"] as? String == "140.00")
        #expect(list[0]["features"] == nil)

        let page2 = try #require(try get("/products?page=2&count=3").json() as? [[String: Any]])
        #expect(page2.map { $0["id"] as? Int } == [4, 5, 6])
        let past = try get("/products?page=1000&count=10")
        #expect(past.status == 200 && past.text.trimmingCharacters(in: .whitespaces) == "[]")
        let last = try #require(try get("/products?page=4&count=6").json() as? [[String: Any]])
        #expect(last.map { $0["id"] as? Int } == [19, 20])
    }

    @Test func productDetail() throws {
        let r = try get("/products/1")
        #expect(r.status == 200)
        expectJSONHeaders(r)
        let p = try #require(try r.json() as? [String: Any])
        #expect(p["id"] as? Int == 1 && p["name"] as? String == "Camo Onesie")
        #expect((p["features"] as? [[String: Any]])?.count == 2)
        // An Authorization header is ignored.
        let authed = try get("/products/1", headers: ["Authorization": "Bearer whatever"])
        #expect(authed.status == 200 && authed.body == r.body)
    }

    @Test func styles() throws {
        let r = try get("/products/1/styles")
        #expect(r.status == 200)
        expectJSONHeaders(r)
        let s = try #require(try r.json() as? [String: Any])
        #expect(s["product_id"] as? String == "1")
        #expect((s["results"] as? [[String: Any]])?.count == 6)
        let none = try #require(try get("/products/11/styles").json() as? [String: Any])
        #expect((none["results"] as? [Any])?.isEmpty == true)
    }

    @Test func related() throws {
        let r = try get("/products/1/related")
        #expect(r.status == 200)
        expectJSONHeaders(r)
        #expect(try r.json() as? [Int] == [2, 3, 8, 7])
    }

    @Test func head() throws {
        let r = try get("/products/1", "HEAD")
        #expect(r.status == 200)
        #expect(r.body.isEmpty)
        expectJSONHeaders(r)
    }

    @Test(arguments: [
        // :product_id not decimal digits, or outside 1...2147483647 → 400
        ("/products/abc", 400), ("/products/0", 400), ("/products/-1", 400), ("/products/2147483648", 400),
        ("/products/99999999999999999999", 400), ("/products/1.5", 400), ("/products/abc/styles", 400),
        ("/products/0/related", 400),
        // page / count not decimal integers, page < 1, count outside 1...1000 → 400
        ("/products?page=0", 400), ("/products?page=-1", 400), ("/products?page=x", 400),
        ("/products?count=0", 400), ("/products?count=1001", 400), ("/products?count=1.5", 400),
        // well-formed id that is not a product → 404, on all three per-product routes
        ("/products/2147483647", 404), ("/products/999999/styles", 404), ("/products/999999/related", 404),
        // any other path → 404
        ("/", 404), ("/nope", 404), ("/products/1/nope", 404), ("/products/1/styles/x", 404),
    ])
    func errorTable(target: String, status: Int) throws {
        let r = try get(target)
        #expect(r.status == status, "\(target)")
        expectJSONHeaders(r)
        let body = try #require(try r.json() as? [String: Any], "\(target): \(r.text)")
        #expect((body["message"] as? String)?.isEmpty == false, "\(target)")
        #expect(!r.text.contains("<html"), "\(target)")
    }

    @Test(arguments: ["POST", "PUT", "DELETE", "PATCH"])
    func otherMethodsAre405(method: String) throws {
        let r = try get("/products/1", method)
        #expect(r.status == 405)
        #expect(r[header: "allow"] == "GET, HEAD")
        expectJSONHeaders(r)
        #expect((try r.json() as? [String: Any])?["message"] != nil)
    }
}

/// The five real responses of the legacy service, rebuilt as CSV rows, imported, and
/// served again: the same JSON, apart from the fields docs/api.md leaves out.
@Suite("Legacy responses round trip")
struct LegacyResponsesTests {
    @Test func theSameResponsesComeBack() throws {
        let fixture = try LegacyFixture()
        let stack = ProductsStack.launch(name: "legacy", data: .legacy(fixture), cache: false)
        defer { stack.stop() }
        for id in fixture.productIDs {
            let product = try HTTP.request(port: stack.port, "GET", "/products/\(id)").json()
            #expect(jsonEqual(product, fixture.product(id)), "product \(id)")
            let styles = try HTTP.request(port: stack.port, "GET", "/products/\(id)/styles").json()
            #expect(jsonEqual(styles, fixture.styles(id)), "styles of \(id)")
        }
    }
}
