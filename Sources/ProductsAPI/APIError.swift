/// The statuses this API answers with.
public enum HTTPStatus: Int, Hashable, Sendable {
    case ok = 200
    case notModified = 304
    case badRequest = 400
    case notFound = 404
    case methodNotAllowed = 405
    case internalServerError = 500
    case serviceUnavailable = 503

    public var code: Int { rawValue }

    public var reasonPhrase: String {
        switch self {
        case .ok: "OK"
        case .notModified: "Not Modified"
        case .badRequest: "Bad Request"
        case .notFound: "Not Found"
        case .methodNotAllowed: "Method Not Allowed"
        case .internalServerError: "Internal Server Error"
        case .serviceUnavailable: "Service Unavailable"
        }
    }
}

/// An error answer: a status and a message for a human, rendered as `{"message": "..."}`.
///
/// Like postgres-nio's `PSQLError`, every error has a stable ``Code`` (for tests and logs), and
/// the message is written for the API's client: it never carries SQL, server or database
/// details. Those go to the worker's log, not here.
public struct APIError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// `:product_id` is not decimal digits, or is outside 1...2147483647.
        case invalidProductID
        /// `page` is not a decimal integer, is below 1, or is given more than once.
        case invalidPage
        /// `count` is not a decimal integer, is outside 1...1000, or is given more than once.
        case invalidCount
        /// No route has this path.
        case routeNotFound
        /// A well-formed product id that is not in the catalog.
        case productNotFound
        /// A method other than GET or HEAD.
        case methodNotAllowed
        /// Something unexpected (details in the log).
        case internalError
        /// The database is unreachable (or overloaded).
        case serviceUnavailable
    }

    public let code: Code
    public let status: HTTPStatus
    public let message: String

    public init(code: Code, status: HTTPStatus, message: String) {
        self.code = code
        self.status = status
        self.message = message
    }

    /// The value of the `Allow` header this answer must carry, if any.
    public var allow: String? { code == .methodNotAllowed ? "GET, HEAD" : nil }

    /// Whether a cache (nginx's microcache, a browser) may keep this answer. Transient server-side
    /// failures must not be cached: the next request may well succeed.
    public var isCacheable: Bool { status.code < 500 }

    public var description: String { "\(status.code) \(code.rawValue): \(message)" }
}

extension APIError {
    public static let invalidProductID = APIError(
        code: .invalidProductID, status: .badRequest,
        message: "product_id must be a whole number from 1 to 2147483647")

    public static let invalidPage = APIError(
        code: .invalidPage, status: .badRequest,
        message: "page must be a whole number of at least 1")

    public static let repeatedPage = APIError(
        code: .invalidPage, status: .badRequest,
        message: "page must be given at most once")

    public static let invalidCount = APIError(
        code: .invalidCount, status: .badRequest,
        message: "count must be a whole number from 1 to 1000")

    public static let repeatedCount = APIError(
        code: .invalidCount, status: .badRequest,
        message: "count must be given at most once")

    public static let routeNotFound = APIError(
        code: .routeNotFound, status: .notFound,
        message: "not found: the routes are /products, /products/:product_id, /products/:product_id/styles and /products/:product_id/related")

    public static let methodNotAllowed = APIError(
        code: .methodNotAllowed, status: .methodNotAllowed,
        message: "method not allowed: use GET or HEAD")

    public static let internalError = APIError(
        code: .internalError, status: .internalServerError,
        message: "internal server error")

    public static let serviceUnavailable = APIError(
        code: .serviceUnavailable, status: .serviceUnavailable,
        message: "the product catalog is temporarily unavailable; try again shortly")

    /// 503 from the readiness check (`/_health/ready`) when the database answers but holds no
    /// catalog yet (no import has swapped one in).
    public static let catalogNotLoaded = APIError(
        code: .serviceUnavailable, status: .serviceUnavailable,
        message: "not ready: no catalog has been imported")

    /// 404 for a well-formed id that is not a product.
    public static func productNotFound(_ id: Int32) -> APIError {
        APIError(code: .productNotFound, status: .notFound, message: "product \(id) not found")
    }
}
