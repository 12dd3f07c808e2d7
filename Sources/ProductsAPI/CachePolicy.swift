/// How long the API's answers may be reused, by nginx, CDNs and browsers alike: the one place
/// these values live. The worker sends them as `Cache-Control` on every 200 and 304; nginx's
/// cache obeys the same header (snippets/microcache.conf), so there is no second policy to
/// keep in step.
///
/// The catalog is immutable between two imports, and every 200 carries an ETag naming the
/// import's generation (``EntityTag``): a cache past max-age asks again with `If-None-Match`
/// and, if no import happened, gets a 304 without a body. So these values trade how soon a new
/// import is seen against how often caches ask:
///
/// - `max-age=60` at most: fresh for up to a minute. Longer = fewer refreshes (each one a
///   query on the worker; nginx fetches the entry again whole, microcache.conf says why), but an
///   import shows up later. About a minute keeps nginx's refreshes of a hot product to one per
///   minute or so per nginx host.
/// - `stale-while-revalidate=30`: for 30 s past max-age a cache may answer with the expired copy
///   at once while it revalidates. nginx lets one request per key wait for the refresh (about a
///   millisecond) and gives the others the stale copy meanwhile; past the 30 s,
///   requests for that key wait for the worker. Longer = fewer waits, older answers.
/// - `stale-if-error=600`: a CDN or browser may keep using a copy for 10 min while the API
///   answers errors (nginx does so for as long as it holds the entry, `inactive=10m`).
///
/// - Each key's max-age is shortened by 0…``maxAgeJitter`` s, chosen by a hash of its ETag (the
///   generation, route and id): 40–60 s. With one max-age for all, the entries a cache filled
///   together expired together, every minute, and each was revalidated in the same second — an
///   expiry wave (issue 22: 24–25k cached req/s dropping to 13–14k every 60 s). A key keeps its
///   own max-age (the same header on every answer for it, until the next import), so the
///   expiries of keys filled together drift apart from cycle to cycle and the revalidations
///   become a steady trickle. Measured by Deploy/bench/real-traffic.
///
/// Bounds, after an import swaps a new generation in: nginx serves the old one for at most
/// max-age + stale-while-revalidate = 90 s (on an app host reading a streaming replica, plus
/// the replica's replay lag). A browser or CDN behind it may hold what nginx gave it for as
/// long again: 180 s end to end.
///
/// **Held until the next import** (``heldMaxAge``): nginx puts the generation it knows into its
/// cache key and sends it as `PRODUCTS_CACHE_GENERATION` (products-cache-generation writes it
/// into nginx's config when an import swaps a new one in: snippets/microcache.conf). When the
/// answer's generation is that one, the worker adds `X-Accel-Expires` (nginx's own header,
/// which it reads before Cache-Control's max-age and never passes on to clients): nginx keeps the
/// entry for about an hour, since the next import changes the key, not the entry. Any other
/// answer (nginx's generation behind or ahead of this app host's catalog, or none known) gets
/// only the 40-60 s above, so a key can hold the wrong generation for 90 s at most. What the
/// hour bounds: how long a host whose products-cache-generation is not running keeps serving an
/// old catalog. `public`: the answers are the same for every client (the API
/// ignores Authorization), so shared caches may keep them.
public enum CachePolicy {
    /// The longest max-age; what an answer without an ETag carries (an empty list page).
    public static let maxAge = 60
    /// How much shorter a key's max-age may be (``keyMaxAge(forETag:)``).
    public static let maxAgeJitter = 20
    public static let staleWhileRevalidate = 30
    public static let staleIfError = 600

    /// The header field's value for a max-age of `seconds`.
    public static func headerValue(maxAge seconds: Int) -> String {
        "public, max-age=\(seconds), stale-while-revalidate=\(staleWhileRevalidate), stale-if-error=\(staleIfError)"
    }

    /// The value an answer without an ETag carries.
    public static let cacheControl = headerValue(maxAge: maxAge)

    /// The max-age of the answers whose ETag is `etag` (as sent, quotes included): `maxAge` less
    /// 0…`maxAgeJitter` s by the ETag's FNV-1a hash.
    public static func keyMaxAge<Bytes: Sequence<UInt8>>(forETag etag: Bytes) -> Int {
        maxAge - Int(fnv1a(etag) % UInt64(maxAgeJitter + 1))
    }

    /// The header field's value for the answers whose ETag is `etag` (nil: no ETag).
    public static func headerValue(forETag etag: String?) -> String {
        guard let etag else { return cacheControl }
        return headerValue(maxAge: keyMaxAge(forETag: etag.utf8))
    }

    /// The header line, as the worker writes it, for each max-age (index: maxAge - max-age).
    private static let headerLines: [[UInt8]] = (0...maxAgeJitter).map {
        Array("Cache-Control: \(headerValue(maxAge: maxAge - $0))\r\n".utf8)
    }

    /// The header line for an answer with this ETag, or without one.
    static func headerLine(etag: UnsafeRawBufferPointer?) -> [UInt8] {
        guard let etag else { return headerLines[0] }
        return headerLines[maxAge - keyMaxAge(forETag: etag)]
    }

    /// nginx's validity for an answer of the generation in nginx's cache key (see above), the
    /// longest; each key's is shorter by 0…``heldMaxAgeJitter`` s (a hash of its ETag), so that
    /// entries filled together do not expire together an hour later.
    public static let heldMaxAge = 3600
    public static let heldMaxAgeJitter = 360

    /// The validity nginx keeps the answers whose ETag is `etag` when they are held until the
    /// next import: `heldMaxAge` less 0…`heldMaxAgeJitter` s by the ETag's FNV-1a hash.
    public static func keyHeldMaxAge<Bytes: Sequence<UInt8>>(forETag etag: Bytes) -> Int {
        heldMaxAge - Int(fnv1a(etag) % UInt64(heldMaxAgeJitter + 1))
    }

    /// `X-Accel-Expires: <seconds>` for each held max-age (index: heldMaxAge - seconds).
    private static let heldLines: [[UInt8]] = (0...heldMaxAgeJitter).map {
        Array("X-Accel-Expires: \(heldMaxAge - $0)\r\n".utf8)
    }

    /// The `X-Accel-Expires` line of an answer with this ETag held until the next import.
    static func heldLine(etag: UnsafeRawBufferPointer) -> [UInt8] {
        heldLines[heldMaxAge - keyHeldMaxAge(forETag: etag)]
    }

    /// FNV-1a, 64 bits.
    private static func fnv1a<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }
}
