import CSystemShims
import SystemCalls
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CLOCK_MONOTONIC in nanoseconds: every due time, send time and completion time.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// CLOCK_REALTIME in nanoseconds: the clock of the kernel's receive timestamps, which the time
/// of a request's first write is compared with.
@inline(__always)
public func realtimeNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
}

/// Sleeps until a monotonic time (no-op if it has passed).
public func sleep(untilMonotonic deadline: UInt64) {
    while true {
        let now = monotonicNanoseconds()
        guard deadline > now else { return }
        let left = deadline - now
        var ts = timespec(tv_sec: Int(left / 1_000_000_000), tv_nsec: Int(left % 1_000_000_000))
        _ = nanosleep(&ts, nil)
    }
}

/// CPU time (user, system) of the whole process, all threads, in nanoseconds.
public func processCPUTime() -> (user: UInt64, system: UInt64) {
    var usage = rusage()
    #if canImport(Glibc)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    func ns(_ t: timeval) -> UInt64 { UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1000 }
    return (ns(usage.ru_utime), ns(usage.ru_stime))
}

/// A resolved IPv4/IPv6 socket address.
public struct SocketAddress: Sendable, CustomStringConvertible {
    let family: Int32
    let bytes: [UInt8]
    public let description: String

    /// getaddrinfo, TCP; the first address (IPv4 preferred, as wrk and curl do for localhost).
    public static func resolve(host: String, port: UInt16) throws(LoadError) -> SocketAddress {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw LoadError.unreachable("cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(result) }
        var chosen = first
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let a = p {
            if a.pointee.ai_family == AF_INET { chosen = a; break }
            p = a.pointee.ai_next
        }
        let len = Int(chosen.pointee.ai_addrlen)
        let raw = UnsafeRawBufferPointer(start: chosen.pointee.ai_addr, count: len)
        var text = [CChar](repeating: 0, count: 64)
        if chosen.pointee.ai_family == AF_INET {
            chosen.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var a = sin.pointee.sin_addr
                _ = inet_ntop(AF_INET, &a, &text, socklen_t(text.count))
            }
        } else {
            chosen.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin in
                var a = sin.pointee.sin6_addr
                _ = inet_ntop(AF_INET6, &a, &text, socklen_t(text.count))
            }
        }
        let addr = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return SocketAddress(family: chosen.pointee.ai_family, bytes: Array(raw),
                             description: chosen.pointee.ai_family == AF_INET6 ? "[\(addr)]:\(port)" : "\(addr):\(port)")
    }

    /// A non-blocking TCP socket (TCP_NODELAY) with a connect in progress.
    /// Returns the fd and whether the connect already completed.
    func connectNonBlocking() throws(LoadError) -> (fd: Int32, connected: Bool) {
        #if canImport(Glibc)
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = socket(family, type, 0)
        #else
        let fd = socket(family, SOCK_STREAM, 0)
        if fd >= 0 { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
        #endif
        guard fd >= 0 else { throw LoadError.system("socket", errno: errno) }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = products_enable_receive_timestamps(fd)   // where it fails, answers have no arrival time
        let rc = bytes.withUnsafeBytes { raw in
            connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        if rc == 0 { return (fd, true) }
        let e = errno
        if e == EINPROGRESS || e == EINTR { return (fd, false) }
        close(fd)
        throw LoadError.system("connect", errno: e)
    }

    /// A blocking connect with a deadline: is anything listening? (Before a run, so that a wrong
    /// --url fails in a second with a clear message instead of as a wall of errors.)
    public func probe(timeoutMilliseconds: Int32 = 2000) throws(LoadError) {
        let (fd, connected) = try connectNonBlocking()
        defer { close(fd) }
        if connected { return }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let n = poll(&p, 1, timeoutMilliseconds)
        guard n > 0 else { throw LoadError.unreachable("\(description): connect timed out") }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        guard err == 0 else {
            throw LoadError.unreachable("\(description): \(String(cString: strerror(err)))")
        }
    }
}

#if os(Linux)
/// epoll, found at run time: Swift's Glibc module does not export <sys/epoll.h>, and the
/// package has no C shim for the generator. The symbols are plain C functions of glibc
/// (epoll_pwait2 since glibc 2.35 / Linux 5.11: a nanosecond timeout, so a request due in
/// 80 µs is not sent a millisecond late; without it, epoll_wait with a millisecond timeout).
final class Epoll {
    typealias CreateFn = @convention(c) (Int32) -> Int32
    typealias CtlFn = @convention(c) (Int32, Int32, Int32, UnsafeMutableRawPointer?) -> Int32
    typealias WaitFn = @convention(c) (Int32, UnsafeMutableRawPointer?, Int32, Int32) -> Int32
    typealias PWait2Fn = @convention(c) (Int32, UnsafeMutableRawPointer?, Int32, UnsafePointer<timespec>?, UnsafeRawPointer?) -> Int32

    static let epollIn: UInt32 = 0x001
    static let epollOut: UInt32 = 0x004
    static let epollErr: UInt32 = 0x008
    static let epollHup: UInt32 = 0x010
    static let epollRdHup: UInt32 = 0x2000

    #if arch(x86_64) || arch(i386)
    /// struct epoll_event is packed on x86: { uint32 events; uint64 data } = 12 bytes.
    static let eventSize = 12
    static let dataOffset = 4
    #else
    static let eventSize = 16
    static let dataOffset = 8
    #endif

    let fd: Int32
    private let ctlFn: CtlFn
    private let waitFn: WaitFn
    private var pwait2Fn: PWait2Fn?
    let capacity: Int
    private let events: UnsafeMutableRawPointer
    /// True if waits have nanosecond precision.
    var preciseTimeouts: Bool { pwait2Fn != nil }

    init(capacity: Int) throws(LoadError) {
        guard let handle = dlopen(nil, RTLD_NOW) else { throw LoadError.system("dlopen", errno: 0) }
        func symbol<T>(_ name: String, _ type: T.Type) -> T? {
            guard let p = dlsym(handle, name) else { return nil }
            return unsafeBitCast(p, to: T.self)
        }
        guard let create = symbol("epoll_create1", CreateFn.self),
              let ctl = symbol("epoll_ctl", CtlFn.self),
              let wait = symbol("epoll_wait", WaitFn.self)
        else { throw LoadError.system("dlsym(epoll)", errno: 0) }
        let fd = create(0x80000)   // EPOLL_CLOEXEC
        guard fd >= 0 else { throw LoadError.system("epoll_create1", errno: errno) }
        pwait2Fn = symbol("epoll_pwait2", PWait2Fn.self)
        ctlFn = ctl
        waitFn = wait
        self.fd = fd
        self.capacity = capacity
        events = UnsafeMutableRawPointer.allocate(byteCount: capacity * Self.eventSize, alignment: 8)
    }

    deinit {
        events.deallocate()
        close(fd)
    }

    /// op: 1 add, 2 delete, 3 modify.
    func control(_ op: Int32, fd target: Int32, events mask: UInt32, data: UInt64) throws(LoadError) {
        var buffer = (UInt64(0), UInt64(0))
        let rc = withUnsafeMutableBytes(of: &buffer) { raw -> Int32 in
            raw.storeBytes(of: mask, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: data, toByteOffset: Self.dataOffset, as: UInt64.self)
            return ctlFn(fd, op, target, raw.baseAddress)
        }
        if rc < 0 { throw LoadError.system("epoll_ctl", errno: errno) }
    }

    func add(_ target: Int32, events mask: UInt32, data: UInt64) throws(LoadError) {
        try control(1, fd: target, events: mask, data: data)
    }

    func modify(_ target: Int32, events mask: UInt32, data: UInt64) throws(LoadError) {
        try control(3, fd: target, events: mask, data: data)
    }

    /// Waits up to `timeout` ns (nil = forever); returns the number of ready events.
    func wait(timeoutNanoseconds timeout: UInt64?) -> Int {
        if let pwait2 = pwait2Fn {
            let n: Int32
            if let timeout {
                var ts = timespec(tv_sec: Int(timeout / 1_000_000_000), tv_nsec: Int(timeout % 1_000_000_000))
                n = retryingEINTR { pwait2(fd, events, Int32(capacity), &ts, nil) }
            } else {
                n = retryingEINTR { pwait2(fd, events, Int32(capacity), nil, nil) }
            }
            if n >= 0 { return Int(n) }
            guard errno == ENOSYS else { return 0 }
            pwait2Fn = nil   // old kernel: fall back for good
        }
        let ms: Int32 = timeout.map { Int32(min(($0 + 999_999) / 1_000_000, 60_000)) } ?? -1
        let n = retryingEINTR { waitFn(fd, events, Int32(capacity), ms) }
        return n >= 0 ? Int(n) : 0
    }

    func event(_ i: Int) -> (events: UInt32, data: UInt64) {
        let base = events + i * Self.eventSize
        return (base.loadUnaligned(as: UInt32.self), base.loadUnaligned(fromByteOffset: Self.dataOffset, as: UInt64.self))
    }
}

/// Timer slack (default 50 µs) lets every wake-up run up to 50 µs late; ask for 1 µs.
/// Per thread and best effort: /proc/<tid>/timerslack_ns (Linux 4.6+; /proc/thread-self has
/// no such file, and prctl is variadic, which Swift cannot call).
func reduceTimerSlack() {
    typealias GetTidFn = @convention(c) () -> Int32
    guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "gettid") else { return }
    let tid = unsafeBitCast(symbol, to: GetTidFn.self)()
    let fd = open("/proc/\(tid)/timerslack_ns", O_WRONLY)
    guard fd >= 0 else { return }
    _ = "1000".withCString { write(fd, $0, 4) }
    close(fd)
}
#endif
