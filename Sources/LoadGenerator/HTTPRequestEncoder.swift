/// Where the load goes: `http://host[:port][/base]`. Only plain HTTP (the generator talks to
/// nginx on the same host or network; TLS would measure the generator's crypto).
public struct TargetURL: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: UInt16
    /// Prefix of every path, without a trailing slash ("" for the root).
    public let basePath: String

    public init(_ text: String) throws(LoadError) {
        guard text.hasPrefix("http://") else {
            throw LoadError.invalidArgument("--url must start with http:// (got \(text))")
        }
        var rest = Substring(text.dropFirst("http://".count))
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        while path.hasSuffix("/") { path.removeLast() }
        var hostPart = rest
        var port: UInt16 = 80
        if hostPart.hasPrefix("[") {   // [::1]:8080
            guard let close = hostPart.firstIndex(of: "]") else {
                throw LoadError.invalidArgument("--url: unterminated IPv6 address")
            }
            let after = hostPart[hostPart.index(after: close)...]
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
            if after.hasPrefix(":") {
                guard let p = UInt16(after.dropFirst()) else { throw LoadError.invalidArgument("--url: bad port") }
                port = p
            }
        } else if let colon = hostPart.lastIndex(of: ":") {
            guard let p = UInt16(hostPart[hostPart.index(after: colon)...]) else {
                throw LoadError.invalidArgument("--url: bad port")
            }
            port = p
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else { throw LoadError.invalidArgument("--url: no host") }
        host = String(hostPart)
        self.port = port
        basePath = path
    }

    /// The Host header's value.
    public var authority: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? h : "\(h):\(port)"
    }

    public var description: String { "http://\(authority)\(basePath)" }
}

/// Writes `GET <path> HTTP/1.1` requests into a caller's buffer, with the fixed part of the
/// header block rendered once.
public struct HTTPRequestEncoder: Sendable {
    private let base: [UInt8]
    private let headerBlock: [UInt8]
    public let listCount: Int

    /// - Parameter headers: extra header lines, `Name: value`.
    public init(target: TargetURL, headers: [String] = [], listCount: Int = 5) {
        base = Array(target.basePath.utf8)
        var block = " HTTP/1.1\r\nHost: \(target.authority)\r\nUser-Agent: products-load\r\nAccept: application/json\r\n"
        for line in headers { block += line + "\r\n" }
        block += "\r\n"
        headerBlock = Array(block.utf8)
        self.listCount = listCount
    }

    /// The path for a request: /products/ID[/styles|/related] or /products?page=P&count=C.
    public func appendPath(route: Route, target: Int, to out: inout [UInt8]) {
        out.append(contentsOf: base)
        switch route {
        case .list:
            out.append(contentsOf: "/products?page=".utf8)
            Self.appendDecimal(target, to: &out)
            out.append(contentsOf: "&count=".utf8)
            Self.appendDecimal(listCount, to: &out)
        case .product, .styles, .related:
            out.append(contentsOf: "/products/".utf8)
            Self.appendDecimal(target, to: &out)
            if route == .styles { out.append(contentsOf: "/styles".utf8) }
            if route == .related { out.append(contentsOf: "/related".utf8) }
        }
    }

    /// Replaces `out` with the whole request.
    public func encode(route: Route, target: Int, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.append(contentsOf: "GET ".utf8)
        appendPath(route: route, target: target, to: &out)
        out.append(contentsOf: headerBlock)
    }

    public func path(route: Route, target: Int) -> String {
        var bytes: [UInt8] = []
        appendPath(route: route, target: target, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        precondition(value >= 0)
        if value < 10 {
            out.append(UInt8(truncatingIfNeeded: value) &+ 0x30)
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var v = value
        withUnsafeMutableBytes(of: &digits) { buf in
            while v > 0 {
                buf[count] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
                v /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { out.append(buf[i]) }
        }
    }
}

public enum LoadError: Error, Equatable, CustomStringConvertible {
    case invalidArgument(String)
    case system(String, errno: Int32)
    case unreachable(String)

    public var description: String {
        switch self {
        case .invalidArgument(let message): message
        case .system(let call, let errno): "\(call) failed: errno \(errno)"
        case .unreachable(let message): message
        }
    }
}
