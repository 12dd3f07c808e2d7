import CFastCGI
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One libfcgi request slot (`FCGX_Request`), bound to a listening socket, reused for every
/// request the process serves: `accept()`, read the parameters, `write`, `finish()`.
///
/// Not thread-safe and deliberately not `Sendable`: the worker is single-threaded. libfcgi's
/// streams point back into the `FCGX_Request`, so it lives at a fixed address owned here.
///
/// Parameter values belong to libfcgi and are freed at the next `accept()`/`finish()`: the
/// borrowed-bytes accessors only lend them inside a closure; ``param(_:)`` copies.
public final class FastCGIRequest {
    private let raw: UnsafeMutablePointer<FCGX_Request>

    /// The last `FCGX_Accept_r` result (0: a request; negative: `-errno` or a libfcgi code).
    public private(set) var lastAcceptStatus: Int32 = 0

    /// The connection this slot holds open (a kept FastCGI connection between requests), or
    /// -1 when it holds none and `accept()` would take a new one from the listening socket.
    public var connectionDescriptor: Int32 { raw.pointee.ipcFd }

    /// `listeningSocket` is 0 (`FCGI_LISTENSOCK_FILENO`) when spawned by a FastCGI master.
    public init(listeningSocket: Int32 = 0) throws(FastCGIError) {
        try FastCGIRuntime.initialize()
        raw = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        let rc = FCGX_InitRequest(raw, listeningSocket, 0)
        if rc != 0 {
            raw.deallocate()
            throw FastCGIError(operation: "FCGX_InitRequest", code: rc)
        }
    }

    deinit {
        FCGX_Free(raw, 1)
        raw.deallocate()
    }

    /// Finishes the previous request, if any, and waits for the next one. False when the
    /// worker should stop: a shutdown was requested (see ``FastCGIRuntime``), or accepting
    /// failed (``lastAcceptStatus`` says why).
    public func accept() -> Bool {
        lastAcceptStatus = FCGX_Accept_r(raw)
        return lastAcceptStatus >= 0
    }

    /// Flushes the response and closes the request (and the connection, unless the web
    /// server asked to keep it). Errors (the client went away) are libfcgi's to swallow.
    public func finish() {
        FCGX_Finish_r(raw)
    }

    /// Reads the request buffered on `connection`, a socket the caller accepted and keeps
    /// owning: ``accept()`` without libfcgi's own `accept()`. False when libfcgi rejected what
    /// it read (it then closed `connection`) or a shutdown was requested.
    ///
    /// libfcgi reads blocking and without a timeout: only hand over a connection on which a
    /// whole request is buffered. The slot should be made with listening socket -1, so that
    /// libfcgi's retry after a protocol error (an `accept()` of its own, then a blocking read
    /// of whatever connection that brings) fails at once instead.
    public func accept(connection: Int32) -> Bool {
        raw.pointee.ipcFd = connection
        // FCGX_Accept_r first finishes the previous request and closes the connection unless
        // it was to be kept: this one is.
        raw.pointee.keepConnection = 1
        // libfcgi's close (OS_IpcClose with shutdown) half-closes, then reads until the peer
        // closes, up to 2 s per read and for ever while the peer trickles bytes: a detached
        // request's connection is just closed.
        raw.pointee.detached = 1
        return accept()
    }

    /// After ``finish()``: the connection if libfcgi kept it open (the web server asked to keep
    /// it), now the caller's alone, or -1 when libfcgi closed it. The slot holds none after this.
    public func releaseConnection() -> Int32 {
        let fd = raw.pointee.ipcFd
        raw.pointee.ipcFd = -1
        return fd
    }

    /// Lends the bytes of parameter `name` (without the terminating NUL), or `nil` when it is
    /// absent. Valid only inside `body`.
    public func withParam<R, E: Error>(_ name: StaticString, _ body: (UnsafeRawBufferPointer?) throws(E) -> R) throws(E) -> R {
        let value = name.withUTF8Buffer { lookup(UnsafeRawBufferPointer($0)) }
        return try body(value)
    }

    /// The value of parameter `name`, copied, or `nil` when it is absent.
    public func param(_ name: String) -> String? {
        var name = name
        let value = name.withUTF8 { lookup(UnsafeRawBufferPointer($0)) }
        return value.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Lends what routing needs, in one pass over the parameters: `REQUEST_METHOD`, the path
    /// and `QUERY_STRING` (`nil` when absent). The path is `DOCUMENT_URI` (nginx's `$uri`:
    /// decoded and normalised, no query), else `SCRIPT_NAME`, else the part of `REQUEST_URI`
    /// before `?`. Valid only inside `body`.
    public func withRequestTarget<R, E: Error>(
        _ body: (_ method: UnsafeRawBufferPointer?, _ path: UnsafeRawBufferPointer?, _ query: UnsafeRawBufferPointer?) throws(E) -> R
    ) throws(E) -> R {
        var method: UnsafeRawBufferPointer?
        var documentURI: UnsafeRawBufferPointer?
        var scriptName: UnsafeRawBufferPointer?
        var requestURI: UnsafeRawBufferPointer?
        var query: UnsafeRawBufferPointer?
        forEachParam { name, value in
            switch name.count {
            case 12 where name.elementsEqual("DOCUMENT_URI".utf8): documentURI = value
            case 14 where name.elementsEqual("REQUEST_METHOD".utf8): method = value
            case 12 where name.elementsEqual("QUERY_STRING".utf8): query = value
            case 11 where name.elementsEqual("SCRIPT_NAME".utf8): scriptName = value
            case 11 where name.elementsEqual("REQUEST_URI".utf8): requestURI = value
            default: break
            }
        }
        var path = documentURI ?? scriptName
        if path == nil, let requestURI {
            let end = requestURI.firstIndex(of: UInt8(ascii: "?")) ?? requestURI.endIndex
            path = UnsafeRawBufferPointer(rebasing: requestURI[..<end])
        }
        return try body(method, path, query)
    }

    /// Writes response bytes (the CGI head, then the body) to the web server. Fails when the
    /// connection is gone; the request should then just be finished.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(FastCGIError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            // FCGX_PutStr takes an Int32 length.
            let chunk = min(bytes.count - offset, Int(Int32.max))
            let written = FCGX_PutStr(base.advanced(by: offset).assumingMemoryBound(to: CChar.self), Int32(chunk), raw.pointee.out)
            if written != Int32(chunk) {
                throw FastCGIError(operation: "FCGX_PutStr", code: FCGX_GetError(raw.pointee.out))
            }
            offset += chunk
        }
    }

    public func write(_ bytes: [UInt8]) throws(FastCGIError) {
        // Array.withUnsafeBytes is not typed-throws: carry the error out in a Result.
        let outcome = bytes.withUnsafeBytes { buffer in
            Result { () throws(FastCGIError) in try write(buffer) }
        }
        try outcome.get()
    }

    /// Each `NAME=value` entry of the request's environment, split at the first `=`.
    private func forEachParam(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        guard var entry = raw.pointee.envp else { return }
        while let cString = entry.pointee {
            let length = strlen(cString)
            let bytes = UnsafeRawBufferPointer(start: cString, count: length)
            if let eq = bytes.firstIndex(of: UInt8(ascii: "=")) {
                body(UnsafeRawBufferPointer(rebasing: bytes[..<eq]), UnsafeRawBufferPointer(rebasing: bytes[(eq + 1)...]))
            }
            entry += 1
        }
    }

    private func lookup(_ name: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard var entry = raw.pointee.envp else { return nil }
        let n = name.count
        while let cString = entry.pointee {
            // Compare the name byte by byte, then require the '=' (entries are NUL-terminated,
            // so a shorter entry stops the comparison at its NUL).
            var i = 0
            while i < n, UInt8(bitPattern: cString[i]) == name[i] { i += 1 }
            if i == n, cString[n] == CChar(UInt8(ascii: "=")) {
                let value = cString + n + 1
                return UnsafeRawBufferPointer(start: value, count: strlen(value))
            }
            entry += 1
        }
        return nil
    }
}
