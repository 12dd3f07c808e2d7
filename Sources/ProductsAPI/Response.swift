/// Renders responses as bytes, the way FastCGI (CGI) expects them: a `Status:` line, headers,
/// a blank line, the body. Everything appends to a caller-owned buffer, which the worker
/// reuses from request to request: no JSONEncoder, no String building on the hot path.
///
/// Every response carries `Content-Type: application/json; charset=utf-8`,
/// `Access-Control-Allow-Origin: *` and `Content-Length`. A 405 adds `Allow: GET, HEAD`; 5xx
/// answers add `Cache-Control: no-store` so that no cache keeps a transient failure. A HEAD
/// response has the same headers as the GET (its `Content-Length` is the GET body's) and no
/// body. A 200 carries ``CachePolicy``'s `Cache-Control` and, when it comes from the catalog,
/// the ETag of its generation and representation (``EntityTag``) and `Vary: Accept-Encoding`
/// (a gzip one adds `Content-Encoding: gzip`); a 304 carries the same three and
/// `Access-Control-Allow-Origin`.
public enum Response {
    public static let contentType = "application/json; charset=utf-8"

    /// Appends the head of a response whose body is `contentLength` bytes.
    public static func appendHead(
        status: HTTPStatus,
        contentLength: Int,
        allow: String? = nil,
        cacheable: Bool = true,
        etag: UnsafeRawBufferPointer? = nil,
        gzip: Bool = false,
        held: Bool = false,
        to out: inout [UInt8]
    ) {
        appendStatusLine(status, to: &out)
        out.append(contentsOf: Self.fixedHeaders)
        if let allow {
            out.append(contentsOf: "Allow: ".utf8)
            out.append(contentsOf: allow.utf8)
            out.append(contentsOf: Self.crlf)
        }
        if !cacheable {
            out.append(contentsOf: "Cache-Control: no-store\r\n".utf8)
        } else if status == .ok {
            out.append(contentsOf: CachePolicy.headerLine(etag: etag))
            // After Cache-Control: nginx takes its stale-while-revalidate from there, and its
            // validity from this line, which it reads last (CachePolicy, "held").
            if held, let etag { out.append(contentsOf: CachePolicy.heldLine(etag: etag)) }
        }
        if let etag {
            out.append(contentsOf: Self.etagPrefix)
            out.append(contentsOf: etag)
            out.append(contentsOf: Self.crlf)
            // A catalog document has two representations (docs/api.md, "Compression").
            out.append(contentsOf: Self.varyLine)
        }
        if gzip { out.append(contentsOf: Self.gzipLine) }
        out.append(contentsOf: Self.contentLengthPrefix)
        appendDecimal(contentLength, to: &out)
        out.append(contentsOf: Self.crlf)
        out.append(contentsOf: Self.crlf)
    }

    /// `Status: <code> <reason>` (the FastCGI form of the status line).
    static func appendStatusLine(_ status: HTTPStatus, to out: inout [UInt8]) {
        out.append(contentsOf: Self.statusPrefix)
        appendDecimal(status.code, to: &out)
        out.append(ASCII.space)
        out.append(contentsOf: status.reasonPhrase.utf8)
        out.append(contentsOf: Self.crlf)
    }

    /// Appends a complete 200 response whose body is `body`: a JSON document or, with `gzip`,
    /// its gzip (`Content-Encoding: gzip`).
    /// `held`: nginx may keep it until the next import (``CachePolicy``, `X-Accel-Expires`).
    public static func appendOK(
        body: UnsafeRawBufferPointer, method: RequestMethod, etag: UnsafeRawBufferPointer? = nil, gzip: Bool = false,
        held: Bool = false, to out: inout [UInt8]
    ) {
        appendHead(status: .ok, contentLength: body.count, etag: etag, gzip: gzip, held: held, to: &out)
        if !method.omitsBody { out.append(contentsOf: body) }
    }

    /// Appends a health check's 200 (``Route/live``, ``Route/ready``): `{"status":"live"}`, or
    /// `{"status":"ready","generation":"..."}` with the catalog's generation. `Cache-Control:
    /// no-store`: a cached "ready" would hide an outage.
    public static func appendHealth(generation: String?, method: RequestMethod, to out: inout [UInt8]) {
        var body: [UInt8] = []
        if let generation {
            body.append(contentsOf: #"{"status":"ready","generation":"#.utf8)
            JSONString.appendQuoted(generation, to: &body)
            body.append(UInt8(ascii: "}"))
        } else {
            body.append(contentsOf: #"{"status":"live"}"#.utf8)
        }
        appendHead(status: .ok, contentLength: body.count, cacheable: false, to: &out)
        if !method.omitsBody { out.append(contentsOf: body) }
    }

    /// Appends a 200 whose body is not JSON (the status page: text or OpenMetrics), never cached.
    public static func appendOK(body: [UInt8], contentType: String, method: RequestMethod, to out: inout [UInt8]) {
        appendStatusLine(.ok, to: &out)
        out.append(contentsOf: "Content-Type: ".utf8)
        out.append(contentsOf: contentType.utf8)
        out.append(contentsOf: "\r\nCache-Control: no-store\r\n".utf8)
        out.append(contentsOf: Self.contentLengthPrefix)
        appendDecimal(body.count, to: &out)
        out.append(contentsOf: Self.crlf)
        out.append(contentsOf: Self.crlf)
        if !method.omitsBody { out.append(contentsOf: body) }
    }

    /// Appends a 304 Not Modified: the client's copy (`If-None-Match`) is current. No body, no
    /// Content-Length or Content-Type (RFC 9110 §15.4.5: a 304 describes the stored 200).
    public static func appendNotModified(etag: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        appendStatusLine(.notModified, to: &out)
        out.append(contentsOf: "Access-Control-Allow-Origin: *\r\n".utf8)
        out.append(contentsOf: CachePolicy.headerLine(etag: etag))
        out.append(contentsOf: Self.etagPrefix)
        out.append(contentsOf: etag)
        out.append(contentsOf: Self.crlf)
        out.append(contentsOf: Self.varyLine)
        out.append(contentsOf: Self.crlf)
    }

    /// Appends a complete 200 response whose body is a JSON array of `elements`, each already
    /// a JSON document (`[]` when there are none).
    public static func appendOKArray<C: Collection<UnsafeRawBufferPointer>>(
        elements: C, method: RequestMethod, etag: UnsafeRawBufferPointer? = nil, held: Bool = false, to out: inout [UInt8]
    ) {
        var total = 0
        for element in elements { total += element.count }
        appendHead(status: .ok, contentLength: JSONArray.length(elementCount: elements.count, elementBytes: total), etag: etag,
                   held: held, to: &out)
        guard !method.omitsBody else { return }
        JSONArray.append(elements: elements, to: &out)
    }

    /// Appends a complete error response: `{"message":"..."}` with the error's status.
    public static func append(error: APIError, method: RequestMethod, to out: inout [UInt8]) {
        let length = ErrorBody.length(message: error.message)
        appendHead(status: error.status, contentLength: length, allow: error.allow, cacheable: error.isCacheable, to: &out)
        if !method.omitsBody { ErrorBody.append(message: error.message, to: &out) }
    }

    /// Appends the decimal digits of a non-negative integer.
    public static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        precondition(value >= 0)
        if value < 10 {
            out.append(ASCII.zero + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for Int.max (19 digits)
        var n = value
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while n > 0 {
                buffer[23 - count] = ASCII.zero + UInt8(n % 10)
                n /= 10
                count += 1
            }
            out.append(contentsOf: buffer[(24 - count)...])
        }
    }

    static let statusPrefix = Array("Status: ".utf8)
    static let crlf = Array("\r\n".utf8)
    static let fixedHeaders = Array("Content-Type: \(contentType)\r\nAccess-Control-Allow-Origin: *\r\n".utf8)
    static let contentLengthPrefix = Array("Content-Length: ".utf8)
    static let etagPrefix = Array("ETag: ".utf8)
    static let varyLine = Array("Vary: Accept-Encoding\r\n".utf8)
    static let gzipLine = Array("Content-Encoding: gzip\r\n".utf8)
}

/// Joining pre-rendered JSON documents into an array.
public enum JSONArray {
    /// The length of `[a,b,c]` for `elementCount` elements totalling `elementBytes` bytes.
    public static func length(elementCount: Int, elementBytes: Int) -> Int {
        2 + elementBytes + max(elementCount - 1, 0)
    }

    public static func appendOpen(to out: inout [UInt8]) { out.append(UInt8(ascii: "[")) }
    public static func appendSeparator(to out: inout [UInt8]) { out.append(UInt8(ascii: ",")) }
    public static func appendClose(to out: inout [UInt8]) { out.append(UInt8(ascii: "]")) }

    /// Appends `[a,b,c]`.
    public static func append<C: Collection<UnsafeRawBufferPointer>>(elements: C, to out: inout [UInt8]) {
        appendOpen(to: &out)
        var first = true
        for element in elements {
            if !first { appendSeparator(to: &out) }
            first = false
            out.append(contentsOf: element)
        }
        appendClose(to: &out)
    }
}

/// `{"message":"..."}`.
public enum ErrorBody {
    static let prefix = Array(#"{"message":"#.utf8)
    static let suffix = Array("}".utf8)

    public static func length(message: String) -> Int {
        prefix.count + JSONString.quotedLength(message) + suffix.count
    }

    public static func append(message: String, to out: inout [UInt8]) {
        out.append(contentsOf: prefix)
        JSONString.appendQuoted(message, to: &out)
        out.append(contentsOf: suffix)
    }
}

/// JSON string literals (RFC 8259 §7): `"` and `\` are escaped, control characters become
/// `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`; everything else (all of Unicode, already valid
/// UTF-8 in a Swift String) is copied as it is.
public enum JSONString {
    /// Appends `string` as a quoted JSON string.
    public static func appendQuoted(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""), 0x5C: out.append(0x5C); out.append(byte)
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
            case 0x08: out.append(0x5C); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(0x5C); out.append(UInt8(ascii: "f"))
            case 0x00..<0x20:
                out.append(0x5C); out.append(UInt8(ascii: "u"))
                out.append(ASCII.zero); out.append(ASCII.zero)
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 0xF))
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The number of bytes `appendQuoted` writes for `string`.
    public static func quotedLength(_ string: String) -> Int {
        var length = 2
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""), 0x5C, 0x0A, 0x0D, 0x09, 0x08, 0x0C: length += 2
            case 0x00..<0x20: length += 6
            default: length += 1
            }
        }
        return length
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? ASCII.zero + nibble : UInt8(ascii: "a") + nibble - 10
    }
}
