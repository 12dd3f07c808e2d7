/// What a request asks for, once the router has validated it.
///
/// Ids are `Int32` because the catalog's ids are PostgreSQL `int`s: the router has already
/// rejected anything outside `1...2147483647`, so no later stage can overflow.
public enum Route: Hashable, Sendable {
    /// `GET /products/:product_id`
    case product(id: Int32)
    /// `GET /products/:product_id/styles`
    case styles(id: Int32)
    /// `GET /products/:product_id/related`
    case related(id: Int32)
    /// `GET /products?page=&count=`. `page` is at least 1 and saturates at `Int.max` (any page
    /// that large is past the end anyway); `count` is in `1...Router.maximumCount`.
    case list(page: Int, count: Int)
    /// `GET /_health/live`: the process answers (no database). For load balancers and
    /// systemd-style watchdogs; nginx exposes it to trusted addresses only.
    case live
    /// `GET /_health/ready`: the database answers and a catalog is loaded; the body names its
    /// generation. 503 otherwise. Trusted addresses only, never cached.
    case ready
    /// `GET /_status`: the worker pool's counters (``StatusFormat``), php-fpm's `pm.status_path`
    /// for this server. Trusted addresses only, never cached.
    case status(StatusFormat)

    /// The product id of a per-product route; `nil` for the list and the health checks.
    public var productID: Int32? {
        switch self {
        case .product(let id), .styles(let id), .related(let id): id
        case .list, .live, .ready, .status: nil
        }
    }

    /// True for the health checks, which are not part of the catalog API: no ETag, no caching.
    public var isHealthCheck: Bool {
        switch self {
        case .live, .ready, .status: true
        case .product, .styles, .related, .list: false
        }
    }
}

/// How `/_status` is written: for people (`/_status`) or for Prometheus (`/_status?openmetrics`,
/// or `?format=openmetrics`).
public enum StatusFormat: Hashable, Sendable {
    case text
    case openMetrics
}

/// The request method, as far as this API cares.
public enum RequestMethod: Hashable, Sendable {
    case get
    /// Same status and headers as GET, no body.
    case head
    /// Anything else (methods are case-sensitive: `get` is not GET). Answered with 405.
    case other

    /// Classifies a method given as bytes (e.g. FastCGI's `REQUEST_METHOD`); `nil` (no method
    /// at all) is `.other`.
    public init(_ bytes: UnsafeRawBufferPointer?) {
        guard let bytes else { self = .other; return }
        if bytes.elementsEqual("GET".utf8) {
            self = .get
        } else if bytes.elementsEqual("HEAD".utf8) {
            self = .head
        } else {
            self = .other
        }
    }

    public init(_ string: String) {
        var string = string
        self = string.withUTF8 { RequestMethod(UnsafeRawBufferPointer($0)) }
    }

    /// True when the response carries headers only.
    public var omitsBody: Bool { self == .head }
}
