import SystemCalls
#if canImport(Glibc)
import Glibc
#endif

/// A raw FastCGI connection to a server's unix socket, for tests that must act like nginx
/// (kept connections) or unlike it (half-sent records). Requests are GETs with nginx's
/// essential parameters; responses are read up to FCGI_END_REQUEST.
public final class FastCGIClient {
    public let fd: Int32

    public init(unixPath path: String, timeout: Int = 5) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SpawnError(description: "socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8).prefix($0.count - 1)) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let error = errno
            close(fd)
            throw SpawnError(description: "connect(\(path)): errno \(error)")
        }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Over a descriptor already connected (one end of a `socketpair`); the client owns it.
    public init(connected fd: Int32, timeout: Int = 5) {
        self.fd = fd
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// The records of one GET (BEGIN_REQUEST, PARAMS, empty PARAMS, empty STDIN), with the
    /// keep-connection flag as nginx's `fastcgi_keep_conn on` sets it.
    public static func get(_ path: String, keepConnection: Bool, params extra: [(String, String)] = []) -> [UInt8] {
        func record(_ type: UInt8, _ content: [UInt8]) -> [UInt8] {
            [1, type, 0, 1, UInt8(content.count >> 8), UInt8(content.count & 0xff), 0, 0] + content
        }
        var params: [UInt8] = []
        for (name, value) in [("REQUEST_METHOD", "GET"), ("REQUEST_URI", path), ("DOCUMENT_URI", path),
                              ("SCRIPT_NAME", path), ("QUERY_STRING", "")] + extra {
            params += [UInt8(name.utf8.count), UInt8(value.utf8.count)] + Array(name.utf8) + Array(value.utf8)
        }
        return record(1, [0, 1, keepConnection ? 1 : 0, 0, 0, 0, 0, 0]) + record(4, params) + record(4, []) + record(5, [])
    }

    public func send(_ bytes: [UInt8]) throws {
        let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else { throw SpawnError(description: "send: \(sent) of \(bytes.count) bytes, errno \(errno)") }
    }

    /// The STDOUT of one response (`Status: 200 ...`), read up to its END_REQUEST record;
    /// throws if the connection ends or times out first.
    public func readResponse() throws -> String {
        var stdout: [UInt8] = []
        while true {
            let header = try read(8)
            let length = Int(header[4]) << 8 | Int(header[5])
            let content = try read(length + Int(header[6]))
            switch header[1] {
            case 6: stdout += content.prefix(length)  // FCGI_STDOUT
            case 3: return String(decoding: stdout, as: UTF8.self)  // FCGI_END_REQUEST
            default: break
            }
        }
    }

    /// True once the server has closed its end (a read returns end of file or a reset).
    public func isClosedByServer() -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    private func read(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var have = 0
        while have < count {
            let n = bytes.withUnsafeMutableBytes { b in retryingEINTR { recv(fd, b.baseAddress! + have, count - have, 0) } }
            guard n > 0 else {
                throw SpawnError(description: n == 0 ? "the server closed the connection" : "recv: errno \(errno)")
            }
            have += n
        }
        return bytes
    }
}
