/// Entity tags of the API's responses, and `If-None-Match`.
///
/// The catalog changes only when an import swaps a new one in, and every import has a
/// *generation*: the name of its swap (the importer's `catalog_import_<stamp>` schema without
/// the prefix, e.g. `20261201_184512_4711_1x9k2q`; unique per import, also across a re-created
/// database, and it names the import in `catalog.import_history`). The view `catalog.product`
/// carries it as a constant column, so a response and its generation come from one row of one
/// snapshot: an ETag can never describe other data than the body it comes with.
///
/// A response's strong ETag is `"<generation>-<route><id>"`: `"20261201_184512_4711_1x9k2q-s42"`
/// for `/products/42/styles` (`p` product, `s` styles, `r` related, `l<page>.<count>` for the
/// list). The route and id are not needed for correctness (a cache keys by URL anyway) but make
/// ETags distinct across resources, which helps anyone reading logs or a CDN's console. The
/// gzip representation's tag adds `-gzip`. Comparisons here are weak (RFC 9110 §13.1.2:
/// `If-None-Match` always compares weakly), so `W/"..."` (what nginx's own gzip sent for
/// responses it compressed, before the worker sent gzip itself) matches too.
public enum EntityTag {
    /// Appends `"<generation>-<route tag>"` (quotes included) to `out`.
    public static func append(generation: UnsafeRawBufferPointer, route: Route, gzip: Bool = false, to out: inout [UInt8]) {
        out.append(ASCII.quote)
        out.append(contentsOf: generation)
        out.append(UInt8(ascii: "-"))
        switch route {
        case .product(let id):
            out.append(UInt8(ascii: "p"))
            Response.appendDecimal(Int(id), to: &out)
        case .styles(let id):
            out.append(UInt8(ascii: "s"))
            Response.appendDecimal(Int(id), to: &out)
        case .related(let id):
            out.append(UInt8(ascii: "r"))
            Response.appendDecimal(Int(id), to: &out)
        case .list(let page, let count):
            out.append(UInt8(ascii: "l"))
            Response.appendDecimal(page, to: &out)
            out.append(UInt8(ascii: "."))
            Response.appendDecimal(count, to: &out)
        case .live, .ready, .status:
            // Never tagged (Route.isHealthCheck): the worker sends them no-store.
            out.append(UInt8(ascii: "h"))
        }
        if gzip { out.append(contentsOf: gzipSuffix) }
        out.append(ASCII.quote)
    }

    /// The gzip representation's tag ends in `-gzip` (`"…-s42-gzip"`): representations of one
    /// resource have different bytes, so different strong tags (RFC 9110 §8.8.3).
    static let gzipSuffix = Array("-gzip".utf8)

    /// The ETag as a String (tests, tools).
    public static func string(generation: String, route: Route, gzip: Bool = false) -> String {
        var out: [UInt8] = []
        var generation = generation
        generation.withUTF8 { append(generation: UnsafeRawBufferPointer($0), route: route, gzip: gzip, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when an `If-None-Match` field value matches `etag` (a quoted strong tag, as
    /// ``append(generation:route:to:)`` writes it): the answer is then 304 Not Modified.
    ///
    /// The field is `*` or a comma-separated list of entity tags, each `"opaque"` or
    /// `W/"opaque"`, with optional whitespace around the commas (RFC 9110 §13.1.2). `*` matches
    /// any current representation. Weak comparison: `W/` is ignored. Anything malformed in the
    /// list is skipped (never a match), so a garbled header costs a full 200, never a wrong 304.
    public static func matches(ifNoneMatch field: UnsafeRawBufferPointer, etag: UnsafeRawBufferPointer) -> Bool {
        var i = field.startIndex
        let end = field.endIndex
        while i < end {
            // Skip separators and whitespace.
            while i < end, field[i] == ASCII.comma || field[i] == ASCII.space || field[i] == ASCII.tab { i += 1 }
            guard i < end else { break }
            if field[i] == ASCII.star { return true }
            if field[i] == UInt8(ascii: "W"), i + 1 < end, field[i + 1] == ASCII.slash { i += 2 }
            guard i < end, field[i] == ASCII.quote else {
                // Not an entity tag: skip to the next comma.
                while i < end, field[i] != ASCII.comma { i += 1 }
                continue
            }
            let start = i
            i += 1
            while i < end, field[i] != ASCII.quote { i += 1 }
            guard i < end else { break }  // unterminated: no match
            i += 1
            let tag = UnsafeRawBufferPointer(rebasing: field[start..<i])
            if tag.elementsEqual(etag) { return true }
        }
        return false
    }

    /// Convenience for tests: the same rule, from Strings.
    public static func matches(ifNoneMatch field: String, etag: String) -> Bool {
        var field = field, etag = etag
        return field.withUTF8 { f in etag.withUTF8 { e in
            matches(ifNoneMatch: UnsafeRawBufferPointer(f), etag: UnsafeRawBufferPointer(e))
        } }
    }
}
