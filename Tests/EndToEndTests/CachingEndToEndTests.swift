import Foundation
import ProductsAPI
import Testing
import TestSupport

/// Catalog generations, ETag/304 and Cache-Control, through real nginx (the repository's
/// config), real workers and a catalog imported by the real importer (docs/api.md, "Caching").
@Suite("Caching end to end")
struct CachingEndToEndTests {
    static let routes = ["/products?page=1&count=5", "/products/1", "/products/1/styles", "/products/1/related"]
    static let routeTags = ["l1.5", "p1", "s1", "r1"]

    /// `"<generation>-<route tag>"`, the generation being the importer's stamp.
    static func generation(of etag: String?, tag: String) -> String? {
        guard let etag, etag.hasPrefix("\""), etag.hasSuffix("-\(tag)\"") else { return nil }
        let inner = etag.dropFirst().dropLast(tag.count + 2)
        return inner.allSatisfy { $0.isNumber || $0.isLowercase || $0 == "_" } && !inner.isEmpty ? String(inner) : nil
    }

    @Test func everyRouteCarriesTheGenerationsETagAndThePolicy() throws {
        let stack = ProductsStack.launch(name: "etag", data: .atelierHead, cache: true)
        defer { stack.stop() }
        var generations: Set<String> = []
        for (target, tag) in zip(Self.routes, Self.routeTags) {
            let get = try HTTP.request(port: stack.port, "GET", target)
            #expect(get.status == 200, "\(target)")
            let generation = Self.generation(of: get[header: "etag"], tag: tag)
            #expect(generation != nil, "\(target): ETag \(get[header: "etag"] ?? "none")")
            if let generation { generations.insert(generation) }
            #expect(get[header: "cache-control"] == CachePolicy.headerValue(forETag: get[header: "etag"]), "\(target)")
            // HEAD agrees with GET: same status, ETag, policy and length, no body.
            let head = try HTTP.request(port: stack.port, "HEAD", target)
            #expect(head.status == 200 && head.body.isEmpty, "\(target)")
            #expect(head[header: "etag"] == get[header: "etag"], "\(target)")
            #expect(head[header: "cache-control"] == get[header: "cache-control"], "\(target)")
            #expect(head[header: "content-length"] == get[header: "content-length"], "\(target)")
        }
        #expect(generations.count == 1, "one import, one generation: \(generations)")
        // Errors carry neither: a 404 of an unknown id, a 400.
        for target in ["/products/999999", "/products/abc"] {
            let r = try HTTP.request(port: stack.port, "GET", target)
            #expect(r[header: "etag"] == nil && r[header: "cache-control"] == nil, "\(target): \(r.headers)")
        }
        // A page past the end has no row to name a generation: no ETag, still the policy.
        let past = try HTTP.request(port: stack.port, "GET", "/products?page=1000&count=5")
        #expect(past.status == 200 && past[header: "etag"] == nil)
    }

    @Test func ifNoneMatchGets304FromNginxsCache() throws {
        let stack = ProductsStack.launch(name: "inm-cache", data: .atelierHead, cache: true)
        defer { stack.stop() }
        for target in Self.routes {
            let first = try HTTP.request(port: stack.port, "GET", target)
            let etag = try #require(first[header: "etag"], "\(target)")
            for (method, condition) in [("GET", etag), ("HEAD", etag), ("GET", "W/\(etag)"), ("GET", "\"other\", \(etag)"), ("GET", "*")] {
                let r = try HTTP.request(port: stack.port, method, target, headers: ["If-None-Match": condition])
                #expect(r.status == 304, "\(method) \(target) If-None-Match: \(condition) → \(r.status)")
                #expect(r.body.isEmpty)
                #expect(r[header: "x-cache-status"] == "HIT", "\(target): answered from nginx's cache")
                #expect(r[header: "etag"] == etag)
                #expect(r[header: "cache-control"] == CachePolicy.headerValue(forETag: etag))
            }
            let other = try HTTP.request(port: stack.port, "GET", target, headers: ["If-None-Match": "\"something-else\""])
            #expect(other.status == 200 && other.body == first.body, "\(target)")
        }
    }

    @Test func withTheCacheBypassedTheWorkerAnswers304Itself() throws {
        let stack = ProductsStack.launch(name: "inm-worker", data: .atelierHead, cache: false)
        defer { stack.stop() }
        for target in Self.routes {
            let first = try HTTP.request(port: stack.port, "GET", target)
            let etag = try #require(first[header: "etag"], "\(target)")
            for (method, condition) in [("GET", etag), ("HEAD", etag), ("GET", "W/\(etag)"), ("GET", "\"a\" , \(etag)")] {
                let r = try HTTP.request(port: stack.port, method, target, headers: ["If-None-Match": condition])
                #expect(r.status == 304, "\(method) \(target) If-None-Match: \(condition) → \(r.status)")
                #expect(r.body.isEmpty)
                #expect(r[header: "x-cache-status"] == "BYPASS")
                #expect(r[header: "etag"] == etag)
                #expect(r[header: "cache-control"] == CachePolicy.headerValue(forETag: etag))
                #expect(r[header: "access-control-allow-origin"] == "*")
            }
            for condition in ["\"x\"", "garbage", "W/", "\"unterminated"] {
                let r = try HTTP.request(port: stack.port, "GET", target, headers: ["If-None-Match": condition])
                #expect(r.status == 200 && r.body == first.body, "\(target) If-None-Match: \(condition) → \(r.status)")
            }
        }
    }

    /// The bound of CachePolicy, end to end: an entry nginx fetches again with no import in
    /// between stays the same; a failed import changes no ETag; after a
    /// good one, nginx serves the new generation within max-age + stale-while-revalidate, and
    /// every response's ETag names the generation of its own body.
    @Test(.timeLimit(.minutes(5)))
    func aNewGenerationShowsThroughNginxWithinTheBoundAndAFailedImportChangesNothing() throws {
        let stack = ProductsStack.launch(name: "generations", data: .atelierHead, cache: true)
        defer { stack.stop() }
        let target = "/products/1/styles"
        let first = try HTTP.request(port: stack.port, "GET", target)
        let oldTag = try #require(first[header: "etag"])
        let cachedAt = Date()

        // A failed import (every product row damaged: the reject guard stops it).
        let bad = try stack.copyOfData()
        let lines = try String(contentsOfFile: bad + "/product.csv", encoding: .utf8).split(separator: "\n")
        try ([String(lines[0])] + lines.dropFirst().map { "x" + $0 }).joined(separator: "\n")
            .write(toFile: bad + "/product.csv", atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try stack.importData(bad) }
        let bypassed = try HTTP.request(port: stack.port, "GET", target, headers: ["X-Cache-Bypass": "1"])
        #expect(bypassed[header: "etag"] == oldTag, "a failed import changed the ETag")
        #expect(bypassed.body == first.body)

        // Past max-age, nginx fetches the entry again (EXPIRED): the same generation, ETag and body.
        Thread.sleep(until: cachedAt.addingTimeInterval(Double(CachePolicy.maxAge) + 1.5))
        var statuses: [String] = []
        for _ in 0..<3 {
            let r = try HTTP.request(port: stack.port, "GET", target)
            statuses.append(r[header: "x-cache-status"] ?? "-")
            #expect(r.status == 200 && r[header: "etag"] == oldTag && r.body == first.body)
            usleep(200_000)
        }
        #expect(statuses.first == "EXPIRED" && statuses.last == "HIT", "\(statuses)")

        // A good import renames product 1's styles: "... v2".
        try stack.importData(try stack.copyOfDataWithProductOneStylesRenamed())
        let swappedAt = Date()

        let bound = Double(CachePolicy.maxAge + CachePolicy.staleWhileRevalidate)
        var newTag: String?
        var mismatched = 0
        while Date().timeIntervalSince(swappedAt) < bound + 5 {
            let r = try HTTP.request(port: stack.port, "GET", target)
            #expect(r.status == 200)
            let isNew = r.text.contains(" v2\"")
            let tag = r[header: "etag"]
            if isNew != (tag != oldTag) { mismatched += 1 }
            if isNew { newTag = tag; break }
            usleep(500_000)
        }
        let seenAfter = Date().timeIntervalSince(swappedAt)
        #expect(mismatched == 0, "responses whose ETag did not name their body's generation")
        let tag = try #require(newTag, "the new generation did not show within \(bound) s")
        #expect(seenAfter <= bound + 1, "shown after \(seenAfter) s")
        #expect(Self.generation(of: tag, tag: "s1") != Self.generation(of: oldTag, tag: "s1"))
        // The old ETag no longer matches: a client holding it gets the new body.
        let r = try HTTP.request(port: stack.port, "GET", target, headers: ["If-None-Match": oldTag])
        #expect(r.status == 200 && r.text.contains(" v2\""))
        print("caching: new generation shown through nginx \(String(format: "%.1f", seenAfter)) s after the swap (bound \(Int(bound)) s)")
    }

    /// Held until the next import (nginx/snippets/microcache.conf), end to end, with
    /// Deploy/host/products-cache-generation running as on a host: an entry of the current
    /// generation is still a HIT well past the 60 s max-age (nginx was told it may keep it),
    /// clients never see X-Accel-Expires, and a new import shows through nginx within seconds,
    /// not 90 s: the generation in the key changes.
    @Test(.timeLimit(.minutes(5)))
    func withTheGenerationServiceEntriesAreHeldUntilTheNextImportAndANewOneShowsWithinSeconds() throws {
        let stack = ProductsStack.launch(name: "held", data: .atelierHead, cache: true)
        defer { stack.stop() }
        try stack.startCacheGeneration(interval: 0.2)
        let oldGeneration = try #require(stack.cacheGeneration())
        usleep(1_000_000)  // nginx's reload with it: new workers take over within milliseconds
        let target = "/products/1/styles"
        let first = try HTTP.request(port: stack.port, "GET", target)
        let cachedAt = Date()
        let oldTag = try #require(first[header: "etag"])
        #expect(Self.generation(of: oldTag, tag: "s1") == oldGeneration)
        #expect(first[header: "x-cache-status"] == "MISS")
        #expect(first[header: "x-accel-expires"] == nil, "nginx's own header reached the client")
        #expect(first[header: "cache-control"]?.contains("max-age=\(CachePolicy.keyMaxAge(forETag: oldTag.utf8)),") == true)

        // Past the max-age of Cache-Control (and within nothing else): still a HIT.
        Thread.sleep(until: cachedAt.addingTimeInterval(Double(CachePolicy.maxAge) + 1.5))
        let later = try HTTP.request(port: stack.port, "GET", target)
        #expect(later[header: "x-cache-status"] == "HIT", "an entry of nginx's generation expired after its max-age")
        #expect(later[header: "etag"] == oldTag && later.body == first.body)
        #expect(later[header: "x-accel-expires"] == nil)

        // A good import: nginx learns of it and asks for the new generation at once.
        try stack.importData(try stack.copyOfDataWithProductOneStylesRenamed())
        let swappedAt = Date()
        var shown: HTTPResponse?
        while Date().timeIntervalSince(swappedAt) < 15 {
            let r = try HTTP.request(port: stack.port, "GET", target)
            #expect(r.status == 200)
            if r.text.contains(" v2\"") { shown = r; break }
            #expect(r[header: "etag"] == oldTag, "the old body with another ETag")
            usleep(100_000)
        }
        let seenAfter = Date().timeIntervalSince(swappedAt)
        let new = try #require(shown, "the new generation did not show within 15 s")
        let newGeneration = try #require(stack.cacheGeneration())
        #expect(newGeneration > oldGeneration)
        #expect(Self.generation(of: new[header: "etag"], tag: "s1") == newGeneration)
        #expect(seenAfter <= 5, "shown after \(seenAfter) s")
        let again = try HTTP.request(port: stack.port, "GET", target)
        #expect(again[header: "x-cache-status"] == "HIT" && again[header: "etag"] == new[header: "etag"])
        print("caching: with products-cache-generation, a HIT \(Int(CachePolicy.maxAge) + 1) s after the fill; the new generation shown through nginx \(String(format: "%.1f", seenAfter)) s after the swap")
    }
}
