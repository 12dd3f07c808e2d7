import Foundation
import Gzip
import Postgres
import Testing
import TestSupport

/// A client that accepts gzip gets the gzip made at import, through real nginx (cache on and
/// bypassed) and real workers: it decodes to exactly the identity body, with its own ETag and
/// `Vary`; a catalog without the import's gzip documents is compressed by the worker instead.
@Suite("Compression end to end", .serialized)
struct CompressionEndToEndTests {
    static let browser = ["Accept-Encoding": "gzip, deflate, br, zstd"]
    static let targets = ["/products/1", "/products/1/styles", "/products/1/related", "/products?page=2&count=3",
                          "/products/11/styles", "/products?page=1000&count=10"]

    /// The gzip answer to `target` decodes to the identity answer; returns whether it was gzip.
    @discardableResult
    func expectSameDocument(_ stack: ProductsStack, _ target: String, bypass: Bool,
                            sourceLocation: SourceLocation = #_sourceLocation) throws -> Bool {
        let extra = bypass ? ["X-Cache-Bypass": "1"] : [:]
        let identity = try HTTP.request(port: stack.port, "GET", target, headers: extra)
        let packed = try HTTP.request(port: stack.port, "GET", target, headers: extra.merging(Self.browser) { a, _ in a })
        #expect(identity.status == 200 && packed.status == 200, sourceLocation: sourceLocation)
        #expect(identity[header: "content-encoding"] == nil, sourceLocation: sourceLocation)
        let gzip = packed[header: "content-encoding"] == "gzip"
        if gzip {
            #expect(try Gzip.decompress(packed.body) == identity.body, "\(target)", sourceLocation: sourceLocation)
        } else {
            #expect(packed.body == identity.body, "\(target)", sourceLocation: sourceLocation)
        }
        if let tag = identity[header: "etag"] {
            // One Vary each (nginx's gzip adds none of its own), and a tag per representation.
            #expect(identity[header: "vary"] == "Accept-Encoding" && packed[header: "vary"] == "Accept-Encoding", "\(target)",
                    sourceLocation: sourceLocation)
            let expected = gzip ? String(tag.dropLast()) + "-gzip\"" : tag
            #expect(packed[header: "etag"] == expected, "\(target)", sourceLocation: sourceLocation)
            // Each client's If-None-Match with its own tag: 304.
            let again = try HTTP.request(port: stack.port, "GET", target,
                                         headers: extra.merging(Self.browser) { a, _ in a }.merging(["If-None-Match": expected]) { a, _ in a })
            #expect(again.status == 304 && again[header: "etag"] == expected, "\(target)", sourceLocation: sourceLocation)
            // The other representation's tag does not match.
            if gzip {
                let other = try HTTP.request(port: stack.port, "GET", target, headers: extra.merging(["If-None-Match": expected]) { a, _ in a })
                #expect(other.status == 200 && other.body == identity.body, "\(target)", sourceLocation: sourceLocation)
            }
        }
        let head = try HTTP.request(port: stack.port, "HEAD", target, headers: extra.merging(Self.browser) { a, _ in a })
        #expect(head.status == 200 && head.body.isEmpty && head[header: "content-length"] == String(packed.body.count),
                "\(target)", sourceLocation: sourceLocation)
        return gzip
    }

    @Test func gzipClientsGetTheImportsGzipThroughTheCache() throws {
        let stack = ProductsStack.launch(name: "gzip", data: .atelierHead, cache: true)
        defer { stack.stop() }
        for bypass in [true, false] {
            for target in Self.targets { try expectSameDocument(stack, target, bypass: bypass) }
        }
        // A styles document is long: it goes out compressed, at under half its size.
        let styles = try HTTP.request(port: stack.port, "GET", "/products/1/styles", headers: Self.browser)
        let plain = try HTTP.request(port: stack.port, "GET", "/products/1/styles")
        #expect(styles[header: "content-encoding"] == "gzip" && styles.body.count * 2 < plain.body.count)
        // gzip;q=0 is a refusal.
        let refused = try HTTP.request(port: stack.port, "GET", "/products/1/styles", headers: ["Accept-Encoding": "gzip;q=0, br"])
        #expect(refused[header: "content-encoding"] == nil && refused.body == plain.body)
    }

    @Test func aCatalogWithoutGzipDocumentsIsCompressedByTheWorker() throws {
        let stack = ProductsStack.launch(name: "gzip-old", data: .atelierHead, cache: false, workers: 1)
        defer { stack.stop() }
        // The worker prepares the gzip lookups, then the view goes away under them (what an
        // older importer's swap does) and never was there for a new connection.
        #expect(try expectSameDocument(stack, "/products/1/styles", bypass: true))
        let owner = try Connection(conninfo: stack.cluster.conninfo(database: stack.database, user: "products_owner"))
        try owner.execute("DROP VIEW catalog.product_gzip")
        for target in Self.targets {
            try expectSameDocument(stack, target, bypass: true)
        }
        #expect(try expectSameDocument(stack, "/products/1/styles", bypass: true))
        // Said once, not per request.
        #expect(stack.serverLog().components(separatedBy: "the catalog has no gzip documents").count == 2)
    }
}
