import Testing
import ProductsAPI

@Suite struct ResponseTests {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func render(_ body: (inout [UInt8]) -> Void) -> String {
        var out: [UInt8] = []
        body(&out)
        return text(out)
    }

    @Test func okHead() {
        let head = render { Response.appendHead(status: .ok, contentLength: 1234, to: &$0) }
        #expect(head == "Status: 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nAccess-Control-Allow-Origin: *\r\nCache-Control: public, max-age=60, stale-while-revalidate=30, stale-if-error=600\r\nContent-Length: 1234\r\n\r\n")
    }

    @Test func okWithETagAndNotModified() {
        let tag = Array(#""20261201_184512_4711_1x9k2q-s42""#.utf8)
        let ok = render { out in tag.withUnsafeBytes { Response.appendHead(status: .ok, contentLength: 3, etag: $0, to: &out) } }
        let policy = CachePolicy.headerValue(forETag: #""20261201_184512_4711_1x9k2q-s42""#)
        #expect(ok.contains("\r\nCache-Control: \(policy)\r\nETag: \"20261201_184512_4711_1x9k2q-s42\"\r\nVary: Accept-Encoding\r\nContent-Length: 3\r\n\r\n"))
        let notModified = render { out in tag.withUnsafeBytes { Response.appendNotModified(etag: $0, to: &out) } }
        #expect(notModified == "Status: 304 Not Modified\r\nAccess-Control-Allow-Origin: *\r\nCache-Control: \(policy)\r\nETag: \"20261201_184512_4711_1x9k2q-s42\"\r\nVary: Accept-Encoding\r\n\r\n")
    }

    @Test func gzipRepresentation() {
        let tag = Array(EntityTag.string(generation: "20261201_184512_4711_1x9k2q", route: .styles(id: 42), gzip: true).utf8)
        #expect(String(decoding: tag, as: UTF8.self) == #""20261201_184512_4711_1x9k2q-s42-gzip""#)
        let body: [UInt8] = [0x1f, 0x8b, 8, 0]
        let ok = render { out in
            tag.withUnsafeBytes { tag in body.withUnsafeBytes { Response.appendOK(body: $0, method: .get, etag: tag, gzip: true, to: &out) } }
        }
        #expect(ok.contains("ETag: \"20261201_184512_4711_1x9k2q-s42-gzip\"\r\nVary: Accept-Encoding\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n"))
        var bytes: [UInt8] = []
        tag.withUnsafeBytes { tag in body.withUnsafeBytes { Response.appendOK(body: $0, method: .get, etag: tag, gzip: true, to: &bytes) } }
        #expect(Array(bytes.suffix(4)) == body)
        let head = render { out in
            tag.withUnsafeBytes { tag in body.withUnsafeBytes { Response.appendOK(body: $0, method: .head, etag: tag, gzip: true, to: &out) } }
        }
        #expect(head.hasSuffix("Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\n"))
        // The identity tag does not match the gzip one, the gzip tag matches itself (weakly too).
        let identity = Array(EntityTag.string(generation: "20261201_184512_4711_1x9k2q", route: .styles(id: 42)).utf8)
        for (field, matches) in [(#""20261201_184512_4711_1x9k2q-s42""#, false), (#"W/"20261201_184512_4711_1x9k2q-s42-gzip""#, true)] {
            let got = Array(field.utf8).withUnsafeBytes { f in tag.withUnsafeBytes { EntityTag.matches(ifNoneMatch: f, etag: $0) } }
            #expect(got == matches, "\(field)")
        }
        #expect(identity != tag)
    }

    /// Issue 22, expiry waves: each key's max-age is 40–60 s by its ETag, the same on every
    /// answer for it, and spread over the whole range across keys.
    @Test func maxAgeIsSpreadAcrossKeysAndFixedPerKey() {
        var seen: [Int: Int] = [:]
        for id in 1...2000 {
            let etag = "\"20261206_105337_3488_pydjbb-s\(id)\""
            let age = CachePolicy.keyMaxAge(forETag: etag.utf8)
            #expect((CachePolicy.maxAge - CachePolicy.maxAgeJitter...CachePolicy.maxAge).contains(age))
            #expect(CachePolicy.keyMaxAge(forETag: etag.utf8) == age)
            seen[age, default: 0] += 1
        }
        // 21 values, ~95 keys each if uniform: every value is used, none by more than twice its share.
        #expect(seen.count == CachePolicy.maxAgeJitter + 1, "\(seen.sorted { $0.key < $1.key })")
        #expect(seen.values.allSatisfy { $0 < 2 * 2000 / (CachePolicy.maxAgeJitter + 1) }, "\(seen)")
        // The bound after an import stays max-age + stale-while-revalidate ≤ 90 s.
        #expect(CachePolicy.maxAge + CachePolicy.staleWhileRevalidate == 90)
        // The header carries the key's own value.
        let tag = Array(#""g-p7""#.utf8)
        let head = render { out in tag.withUnsafeBytes { Response.appendHead(status: .ok, contentLength: 1, etag: $0, to: &out) } }
        #expect(head.contains("max-age=\(CachePolicy.keyMaxAge(forETag: tag)),"))
    }

    /// Held until the next import: `X-Accel-Expires` (nginx's alone) only on a 200 with an ETag
    /// marked held, after Cache-Control (nginx takes stale-while-revalidate from there), with the
    /// key's own validity of 3240-3600 s.
    @Test func heldAnswersTellNginxTheirValidityAfterCacheControl() {
        let tag = Array(#""20261206_105337_3488_pydjbb-s7""#.utf8)
        let held = render { out in tag.withUnsafeBytes { Response.appendOK(body: UnsafeRawBufferPointer(start: nil, count: 0), method: .get, etag: $0, held: true, to: &out) } }
        let age = CachePolicy.keyHeldMaxAge(forETag: tag)
        #expect((CachePolicy.heldMaxAge - CachePolicy.heldMaxAgeJitter...CachePolicy.heldMaxAge).contains(age))
        let cacheControl = try? #require(held.firstRange(of: "Cache-Control: "))
        let accel = try? #require(held.firstRange(of: "X-Accel-Expires: \(age)\r\n"))
        if let cacheControl, let accel { #expect(cacheControl.lowerBound < accel.lowerBound) }
        let notHeld = render { out in tag.withUnsafeBytes { Response.appendOK(body: UnsafeRawBufferPointer(start: nil, count: 0), method: .get, etag: $0, to: &out) } }
        #expect(!notHeld.contains("X-Accel-Expires"))
        let untagged = render { Response.appendOK(body: UnsafeRawBufferPointer(start: nil, count: 0), method: .get, held: true, to: &$0) }
        #expect(!untagged.contains("X-Accel-Expires"))
        var ages = Set<Int>()
        for id in 1...2000 { ages.insert(CachePolicy.keyHeldMaxAge(forETag: "\"g-s\(id)\"".utf8)) }
        #expect(ages.count > 300, "held validities spread over \(ages.count) values")
    }

    @Test func errorsCarryNoCachePolicy() {
        let notFound = render { Response.append(error: .productNotFound(9), method: .get, to: &$0) }
        #expect(!notFound.contains("Cache-Control") && !notFound.contains("ETag"))
        let unavailable = render { Response.append(error: .serviceUnavailable, method: .get, to: &$0) }
        #expect(unavailable.contains("Cache-Control: no-store\r\n") && !unavailable.contains("max-age"))
    }

    @Test func healthChecksAreNeverCached() {
        let live = render { Response.appendHealth(generation: nil, method: .get, to: &$0) }
        #expect(live == "Status: 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nAccess-Control-Allow-Origin: *\r\nCache-Control: no-store\r\nContent-Length: 17\r\n\r\n{\"status\":\"live\"}")
        let ready = render { Response.appendHealth(generation: "20261201_184512_4711_1x9k2q", method: .get, to: &$0) }
        #expect(ready.hasSuffix("Cache-Control: no-store\r\nContent-Length: 61\r\n\r\n{\"status\":\"ready\",\"generation\":\"20261201_184512_4711_1x9k2q\"}"))
        let head = render { Response.appendHealth(generation: "g", method: .head, to: &$0) }
        #expect(head.hasSuffix("Content-Length: 35\r\n\r\n"))
        let notReady = render { Response.append(error: .catalogNotLoaded, method: .get, to: &$0) }
        #expect(notReady.hasPrefix("Status: 503 Service Unavailable\r\n") && notReady.contains("Cache-Control: no-store\r\n"))
    }

    @Test func okBody() {
        let body = Array(#"{"id":1}"#.utf8)
        let get = render { out in body.withUnsafeBytes { Response.appendOK(body: $0, method: .get, to: &out) } }
        #expect(get.hasSuffix("Content-Length: 8\r\n\r\n{\"id\":1}"))
        #expect(get.hasPrefix("Status: 200 OK\r\n"))
    }

    @Test func headHasTheSameHeadersAndNoBody() {
        let body = Array(#"{"id":1}"#.utf8)
        let get = render { out in body.withUnsafeBytes { Response.appendOK(body: $0, method: .get, to: &out) } }
        let head = render { out in body.withUnsafeBytes { Response.appendOK(body: $0, method: .head, to: &out) } }
        #expect(head.hasSuffix("Content-Length: 8\r\n\r\n"))
        #expect(get == head + #"{"id":1}"#)

        let error = render { Response.append(error: .productNotFound(9), method: .head, to: &$0) }
        let errorGet = render { Response.append(error: .productNotFound(9), method: .get, to: &$0) }
        #expect(errorGet == error + #"{"message":"product 9 not found"}"#)
    }

    @Test func arrays() {
        let docs = [Array(#"{"id":1}"#.utf8), Array(#"{"id":2}"#.utf8), Array("{}".utf8)]
        let out = render { out in
            docs[0].withUnsafeBytes { a in docs[1].withUnsafeBytes { b in docs[2].withUnsafeBytes { c in
                Response.appendOKArray(elements: [a, b, c], method: .get, to: &out)
            } } }
        }
        let body = #"[{"id":1},{"id":2},{}]"#
        #expect(out.hasSuffix("Content-Length: \(body.utf8.count)\r\n\r\n" + body))
    }

    @Test func emptyArray() {
        let get = render { Response.appendOKArray(elements: [UnsafeRawBufferPointer](), method: .get, to: &$0) }
        #expect(get.hasSuffix("Content-Length: 2\r\n\r\n[]"))
        let head = render { Response.appendOKArray(elements: [UnsafeRawBufferPointer](), method: .head, to: &$0) }
        #expect(head.hasSuffix("Content-Length: 2\r\n\r\n"))
    }

    @Test func arrayLength() {
        #expect(JSONArray.length(elementCount: 0, elementBytes: 0) == 2)
        #expect(JSONArray.length(elementCount: 1, elementBytes: 10) == 12)
        #expect(JSONArray.length(elementCount: 3, elementBytes: 10) == 14)
    }

    @Test(arguments: [
        (APIError.invalidProductID, "400 Bad Request"),
        (APIError.invalidPage, "400 Bad Request"),
        (APIError.invalidCount, "400 Bad Request"),
        (APIError.repeatedPage, "400 Bad Request"),
        (APIError.routeNotFound, "404 Not Found"),
        (APIError.productNotFound(42), "404 Not Found"),
        (APIError.methodNotAllowed, "405 Method Not Allowed"),
        (APIError.internalError, "500 Internal Server Error"),
        (APIError.serviceUnavailable, "503 Service Unavailable"),
    ])
    func errorResponses(_ error: APIError, _ statusLine: String) {
        let out = render { Response.append(error: error, method: .get, to: &$0) }
        guard let split = out.firstRange(of: "\r\n\r\n") else { Issue.record("no blank line"); return }
        let head = String(out[..<split.lowerBound])
        let body = String(out[split.upperBound...])
        #expect(head.hasPrefix("Status: \(statusLine)\r\n"))
        #expect(head.contains("\r\nContent-Type: application/json; charset=utf-8\r\n"))
        #expect(head.contains("\r\nAccess-Control-Allow-Origin: *\r\n"))
        #expect(head.hasSuffix("\r\nContent-Length: \(body.utf8.count)"))
        #expect(body.hasPrefix(#"{"message":""#) && body.hasSuffix(#""}"#))
        #expect(head.contains("Allow: GET, HEAD") == (error.code == .methodNotAllowed))
        #expect(head.contains("Cache-Control: no-store") == (error.status.code >= 500))
    }

    @Test func methodNotAllowedCarriesAllow() {
        let out = render { Response.append(error: .methodNotAllowed, method: .other, to: &$0) }
        #expect(out.contains("\r\nAllow: GET, HEAD\r\n"))
        #expect(out.hasSuffix(#"{"message":"method not allowed: use GET or HEAD"}"#))
    }

    @Test func serverErrorsSayNothingAboutTheDatabase() {
        for error in [APIError.internalError, .serviceUnavailable] {
            let lower = error.message.lowercased()
            for word in ["sql", "postgres", "select", "libpq", "connection", "socket", "stack", "error:"] {
                #expect(!lower.contains(word), "\(error.code): \(word)")
            }
        }
    }

    @Test func decimal() {
        for value in [0, 7, 9, 10, 99, 100, 1234, 1_000_000, 2147483647, Int.max] {
            let out = render { Response.appendDecimal(value, to: &$0) }
            #expect(out == String(value))
        }
    }
}

@Suite struct JSONStringTests {
    func quoted(_ s: String) -> String {
        var out: [UInt8] = []
        JSONString.appendQuoted(s, to: &out)
        #expect(out.count == JSONString.quotedLength(s), "length for \(s.debugDescription)")
        return String(decoding: out, as: UTF8.self)
    }

    @Test func plain() {
        #expect(quoted("") == #""""#)
        #expect(quoted("product 9 not found") == #""product 9 not found""#)
        #expect(quoted("/ is not escaped") == #""/ is not escaped""#)
    }

    @Test func escapes() {
        #expect(quoted(#"say "hi""#) == #""say \"hi\"""#)
        #expect(quoted(#"back\slash"#) == #""back\\slash""#)
        #expect(quoted("a\nb\rc\td") == #""a\nb\rc\td""#)
        #expect(quoted("\u{08}\u{0C}") == #""\b\f""#)
        #expect(quoted("\u{00}\u{01}\u{1F}") == #""\u0000\u0001\u001f""#)
        #expect(quoted("\u{7F}") == "\"\u{7F}\"")
    }

    @Test func unicodeIsCopied() {
        #expect(quoted("café ☕️ 𝄞") == "\"café ☕️ 𝄞\"")
    }

    @Test func errorBody() {
        var out: [UInt8] = []
        ErrorBody.append(message: #"a "quoted" word"#, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"{"message":"a \"quoted\" word"}"#)
        #expect(out.count == ErrorBody.length(message: #"a "quoted" word"#))
    }
}
