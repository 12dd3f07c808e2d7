import SystemCalls
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The listening socket, bound once by the master and inherited by every worker as fd 0
/// (`FCGI_LISTENSOCK_FILENO`), like spawn-fcgi does it.
public final class Listener {
    public let fileDescriptor: Int32
    public let address: ListenAddress
    /// False for a TCP address that is not loopback: worth a warning (see ``ListenAddress/tcp(host:port:)``).
    public let isLoopback: Bool
    /// The unix socket file we created (device, inode), so cleanup never removes a file that
    /// someone else has since put at the same path.
    private let socketFile: (path: String, device: dev_t, inode: ino_t)?

    /// Binds and listens. A unix socket path that already exists is removed only if it is a
    /// socket nobody is listening on (a stale file from a crashed master); anything else is an
    /// error. The socket file gets `mode` and `group` before `listen`, so nginx can never
    /// connect to a socket with the wrong permissions.
    public init(address: ListenAddress, socketMode: mode_t, socketGroup: String?, backlog: Int32) throws {
        self.address = address
        var fd: Int32
        switch address {
        case .unix(let path):
            try Listener.removeStaleSocket(at: path)
            fd = try syscall("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
            do {
                // Created 0600, then opened up to `socketMode`: never wider than asked. Linux
                // gives the file the socket's own mode (minus the umask), which fchmod sets
                // before bind; not umask(0177), which is process-wide: in a process with other
                // threads (the tests) every file they created meanwhile got it too — a test
                // PostgreSQL's data directory, 0600, once made CI fail.
                try syscall("fchmod(socket)") { fchmod(fd, 0o600) }
                try withSocketAddress(unixPath: path) { address, length in
                    _ = try syscall("bind(\(path))") { bind(fd, address, length) }
                }
            } catch {
                close(fd)
                throw error
            }
            do {
                try syscall("chmod(\(path))") { chmod(path, socketMode) }
                if let socketGroup {
                    let gid = try Listener.groupID(named: socketGroup)
                    try syscall("chown(\(path), group \(socketGroup))") { chown(path, uid_t.max, gid) }
                }
                var info = stat()
                try syscall("stat(\(path))") { stat(path, &info) }
                socketFile = (path, info.st_dev, info.st_ino)
                isLoopback = true
            } catch {
                close(fd)
                unlink(path)
                throw error
            }
        case .tcp(let host, let port):
            (fd, isLoopback) = try Listener.bindTCP(host: host, port: port)
            socketFile = nil
        case .systemd:
            // Already bound and listening, with the .socket unit's mode, group and backlog:
            // adopted as it is, and never unlinked (the socket unit owns the file).
            (fd, isLoopback) = try Listener.adoptSystemdSocket()
            fileDescriptor = fd
            socketFile = nil
            return
        }
        do {
            try syscall("listen") { listen(fd, backlog) }
            // Keep the socket off fds 0-2, so that dup2-ing it onto 0 in a worker never
            // collides with itself (a master started with stdin closed gets fd 0 from socket()).
            if fd < 3 {
                let moved = try syscall("fcntl(F_DUPFD_CLOEXEC)") { fcntl(fd, F_DUPFD_CLOEXEC, 3) }
                close(fd)
                fd = moved
            }
        } catch {
            close(fd)
            if let socketFile { unlink(socketFile.path) }
            throw error
        }
        fileDescriptor = fd
    }

    deinit { close(fileDescriptor) }

    /// Removes the unix socket file, if it is still the one this listener created.
    public func removeSocketFile() {
        guard let socketFile else { return }
        var info = stat()
        guard stat(socketFile.path, &info) == 0, info.st_dev == socketFile.device, info.st_ino == socketFile.inode else { return }
        unlink(socketFile.path)
    }

    // MARK: - Unix sockets

    private static func removeStaleSocket(at path: String) throws {
        var info = stat()
        if lstat(path, &info) != 0 {
            if errno == ENOENT { return }
            throw SyscallError(function: "lstat(\(path))", errno: errno)
        }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw ConfigurationError("--listen \(path): the path exists and is not a socket; refusing to replace it")
        }
        let probe = try syscall("socket") {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        }
        defer { close(probe) }
        let connected: Int32 = withSocketAddress(unixPath: path) { address, length in
            retryingEINTR { connect(probe, address, length) } == 0 ? 0 : errno
        }
        switch connected {
        case ECONNREFUSED:
            // Nobody listens: a stale file left by a master that did not exit cleanly.
            try syscall("unlink(\(path))") { unlink(path) }
        case ENOENT:
            return
        case 0, EAGAIN, EINPROGRESS:
            throw ConfigurationError("--listen \(path): another server is already listening on this socket")
        default:
            throw SyscallError(function: "connect(\(path))", errno: connected)
        }
    }

    static func groupID(named name: String) throws -> gid_t {
        if let gid = gid_t(name) { return gid }
        var group = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        let error = getgrnam_r(name, &group, &buffer, buffer.count, &result)
        guard error == 0 else { throw SyscallError(function: "getgrnam_r(\(name))", errno: error) }
        guard result != nil else { throw ConfigurationError("--socket-group \(name): no such group") }
        return group.gr_gid
    }

    // MARK: - systemd socket activation

    /// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
    static let systemdFirstDescriptor: Int32 = 3

    /// sd_listen_fds(3) without libsystemd: `LISTEN_PID` must be this process and
    /// `LISTEN_FDS` exactly 1 (one listener; `Accept=no`). The variables are removed so the
    /// workers, which get the socket as fd 0, never read them. Returns fd 3, close-on-exec
    /// (workers get it through their own dup2), and whether it is a unix or loopback socket.
    public static func adoptSystemdSocket(
        environment: (String) -> String? = { getenv($0).map { String(cString: $0) } }
    ) throws -> (fd: Int32, isLoopback: Bool) {
        defer { for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(name) } }
        guard let pidText = environment("LISTEN_PID"), let countText = environment("LISTEN_FDS") else {
            throw ConfigurationError("--listen systemd: no socket passed (LISTEN_FDS/LISTEN_PID unset): start it through its .socket unit")
        }
        guard pid_t(pidText) == getpid() else {
            throw ConfigurationError("--listen systemd: LISTEN_PID=\(pidText) is not this process (\(getpid())): the sockets were meant for another one")
        }
        guard countText == "1" else {
            throw ConfigurationError("--listen systemd: LISTEN_FDS=\(countText); expected exactly one listening socket (ListenStream= once, Accept=no)")
        }
        let fd = systemdFirstDescriptor
        var accepting: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        try syscall("getsockopt(fd 3, SO_ACCEPTCONN)") { getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) }
        guard accepting != 0 else {
            throw ConfigurationError("--listen systemd: fd 3 is a socket but not listening (the .socket unit needs Accept=no)")
        }
        try syscall("fcntl(fd 3, F_SETFD)") { fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var storage = sockaddr_storage()
        var storageLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        try withUnsafeMutablePointer(to: &storage) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                _ = try syscall("getsockname(fd 3)") { getsockname(fd, address, &storageLength) }
            }
        }
        let isLoopback = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                Int32(address.pointee.sa_family) == AF_UNIX || Listener.isLoopback(address)
            }
        }
        return (fd, isLoopback)
    }

    // MARK: - TCP

    private static func bindTCP(host: String, port: UInt16) throws -> (fd: Int32, isLoopback: Bool) {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw ConfigurationError("--listen \(host):\(port): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        let info = first.pointee
        let fd = try syscall("socket") { socket(info.ai_family, info.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.ai_protocol) }
        do {
            var on: Int32 = 1
            try syscall("setsockopt(SO_REUSEADDR)") {
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            }
            try syscall("bind(\(host):\(port))") { bind(fd, info.ai_addr, info.ai_addrlen) }
        } catch {
            close(fd)
            throw error
        }
        return (fd, isLoopback(info.ai_addr))
    }

    private static func isLoopback(_ address: UnsafeMutablePointer<sockaddr>) -> Bool {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            let ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            return ip >> 24 == 127
        case AF_INET6:
            let bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                withUnsafeBytes(of: $0.pointee.sin6_addr) { Array($0) }
            }
            let isV6Loopback = bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1
            let isV4MappedLoopback = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff && bytes[12] == 127
            return isV6Loopback || isV4MappedLoopback
        default:
            return false
        }
    }
}

private func withSocketAddress<R>(unixPath path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
        buffer.copyBytes(from: bytes.prefix(buffer.count - 1))
    }
    return try withUnsafePointer(to: &address) {
        try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            try body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
}
