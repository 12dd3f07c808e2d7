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
/// - `max-age=60`: fresh for a minute. Longer = fewer revalidations (each one still a query on
///   the worker, though no body crosses the network), but an import shows up later. A minute
///   keeps nginx's revalidations of a hot product to one per minute per nginx host.
/// - `stale-while-revalidate=30`: for 30 s past max-age a cache may answer with the expired copy
///   at once while it revalidates. nginx lets one request per key wait for the revalidation (a
///   304, about a millisecond) and gives the others the stale copy meanwhile; past the 30 s,
///   requests for that key wait for the worker. Longer = fewer waits, older answers.
/// - `stale-if-error=600`: a CDN or browser may keep using a copy for 10 min while the API
///   answers errors (nginx does so for as long as it holds the entry, `inactive=10m`).
///
/// Bounds, after an import swaps a new generation in: nginx serves the old one for at most
/// max-age + stale-while-revalidate = 90 s (on an app host reading a streaming replica, plus
/// the replica's replay lag). A browser or CDN behind it may hold what nginx gave it for as
/// long again: 180 s end to end. `public`: the answers are the same for every client (the API
/// ignores Authorization), so shared caches may keep them.
public enum CachePolicy {
    public static let maxAge = 60
    public static let staleWhileRevalidate = 30
    public static let staleIfError = 600

    /// The header field's value.
    public static let cacheControl =
        "public, max-age=\(maxAge), stale-while-revalidate=\(staleWhileRevalidate), stale-if-error=\(staleIfError)"

    /// The header line, as the worker writes it.
    static let headerLine = Array("Cache-Control: \(cacheControl)\r\n".utf8)
}
