import Foundation
import SystemCalls
import Testing
import ProductsServer
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

// The real thing: the built products-server binary, a master with real workers on a temporary
// unix socket, driven with signals. The database is unreachable on purpose: workers must
// still start, accept and answer 503. No PostgreSQL or nginx is needed.

@Suite(.serialized) struct MasterProcessTests {
    @Test func respawnsReloadsAndStopsGracefully() throws {
        let master = try MasterProcess.start(workers: 2, gracefulTimeout: 5)
        defer { master.cleanUp() }

        // Up: the socket exists with the requested mode, two workers run, a request gets 503.
        let initial = try master.waitForWorkers(2)
        let mode = try #require(fileMode(master.socketPath), "\(master.log())")
        #expect(mode & S_IFMT == S_IFSOCK)
        #expect(mode & 0o777 == 0o660)
        let response = try fastCGIGet(socketPath: master.socketPath, path: "/products/1")
        #expect(response.hasPrefix("Status: 503"), "\(response)\n\(master.log())")

        // A worker killed behind the master's back is replaced.
        let victim = try #require(initial.min())
        kill(victim, SIGKILL)
        let afterKill = try master.waitForWorkers(2, within: .seconds(5)) { !$0.contains(victim) }
        #expect(afterKill.subtracting(initial).count == 1, "\(master.log())")
        #expect(master.log().contains("worker exited unexpectedly"))

        // SIGHUP: a whole new generation, the old one retired, the socket accepting throughout.
        kill(master.pid, SIGHUP)
        var refusedConnections = 0
        let reloaded = try master.waitForWorkers(2, within: .seconds(10)) { current in
            if !canConnect(master.socketPath) { refusedConnections += 1 }
            return current.isDisjoint(with: afterKill)
        }
        #expect(reloaded.isDisjoint(with: afterKill))
        #expect(refusedConnections == 0)
        let afterReload = try fastCGIGet(socketPath: master.socketPath, path: "/products/1")
        #expect(afterReload.hasPrefix("Status: 503"), "\(afterReload)")

        // SIGTERM: the master stops its workers and exits 0 within the graceful timeout,
        // removing the socket file.
        kill(master.pid, SIGTERM)
        let status = try #require(master.waitForExit(within: .seconds(7)), "master did not exit\n\(master.log())")
        #expect(status == .exited(0), "\(master.log())")
        #expect(fileMode(master.socketPath) == nil, "socket file left behind")
        #expect(reloaded.allSatisfy { kill($0, 0) == -1 }, "a worker outlived the master")
        #expect(master.log().contains("all workers stopped; exiting"))
    }

    @Test func aWorkerThatDoesNotStopIsKilledAtTheGracefulTimeout() throws {
        let master = try MasterProcess.start(workers: 2, gracefulTimeout: 1)
        defer { master.cleanUp() }
        let workers = try master.waitForWorkers(2)
        let stuck = try #require(workers.min())
        kill(stuck, SIGSTOP)  // cannot act on SIGTERM; SIGKILL still works
        let stopRequested = ContinuousClock.now
        kill(master.pid, SIGTERM)
        let status = try #require(master.waitForExit(within: .seconds(5)), "\(master.log())")
        #expect(status == .exited(0))
        #expect(ContinuousClock.now - stopRequested >= .seconds(1), "the stuck worker had its grace period")
        #expect(master.log().contains("graceful timeout exceeded: killing"), "\(master.log())")
        #expect(master.log().contains("worker=\(stuck)") && master.log().contains("killed by SIGKILL"))
        #expect(fileMode(master.socketPath) == nil)
    }

    @Test func quitStopsAtOnce() throws {
        let master = try MasterProcess.start(workers: 2, gracefulTimeout: 30)
        defer { master.cleanUp() }
        let workers = try master.waitForWorkers(2)
        kill(master.pid, SIGQUIT)
        let status = try #require(master.waitForExit(within: .seconds(5)), "\(master.log())")
        #expect(status == .exited(0))
        #expect(fileMode(master.socketPath) == nil)
        #expect(workers.allSatisfy { kill($0, 0) == -1 })
        #expect(master.log().contains("killed by SIGKILL"))
    }

    @Test func ctrlCToTheWholeProcessGroupIsAGracefulStopNotACrash() throws {
        let master = try MasterProcess.start(workers: 2, gracefulTimeout: 5, ownProcessGroup: true)
        defer { master.cleanUp() }
        let workers = try master.waitForWorkers(2)
        kill(-master.pid, SIGINT)  // what a terminal's Ctrl-C does
        #expect(master.waitForExit(within: .seconds(7)) == .exited(0), "\(master.log())")
        #expect(workers.allSatisfy { kill($0, 0) == -1 })
        #expect(!master.log().contains("worker exited unexpectedly"), "\(master.log())")
    }

    @Test func crashLoopingWorkersAreRespawnedWithBackoff() throws {
        let master = try MasterProcess.start(workers: 1, gracefulTimeout: 5)
        defer { master.cleanUp() }
        // One worker: up to 3 unexpected exits per 10 s are respawned at once; the 4th waits.
        var current = try master.waitForWorkers(1)
        for _ in 0..<4 {
            let victim = try #require(current.first)
            kill(victim, SIGKILL)
            current = try master.waitForWorkers(1, within: .seconds(5)) { !$0.contains(victim) }
        }
        #expect(master.log().contains("workers are crash-looping: delaying respawn"), "\(master.log())")
        kill(master.pid, SIGTERM)
        #expect(master.waitForExit(within: .seconds(7)) == .exited(0))
    }

    @Test func workersStopWhenTheMasterIsKilled() throws {
        // SIGKILL leaves the master no chance to stop its workers: they must not serve on
        // unsupervised (the parent-death signal makes them stop gracefully).
        let master = try MasterProcess.start(workers: 2, gracefulTimeout: 5)
        defer { master.cleanUp() }
        let workers = try master.waitForWorkers(2)
        kill(master.pid, SIGKILL)
        _ = master.waitForExit(within: .seconds(5))
        let deadline = ContinuousClock.now + .seconds(5)
        // Orphans are reaped by pid 1, maybe late: a zombie has stopped too.
        func running(_ pid: pid_t) -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            return !stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
        }
        while ContinuousClock.now < deadline, workers.contains(where: running) {
            usleep(50_000)
        }
        #expect(!workers.contains(where: running), "workers outlived a killed master\n\(master.log())")
    }

    @Test func servesASocketPassedBySystemdAndLeavesItListeningAfterExit() throws {
        // Socket activation: the socket belongs to the .socket unit (here: this test). The
        // master serves it, and when it stops the socket stays bound and listening, so a
        // restart (an upgrade) queues connections in the backlog instead of refusing them.
        var template = Array("/tmp/products-activated-XXXXXX".utf8CString)
        let directory = String(cString: try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }))
        defer { rmdir(directory) }
        let path = directory + "/fcgi.sock"
        let owned = try Listener(address: .unix(path: path), socketMode: 0o600, socketGroup: nil, backlog: 64)
        defer { owned.removeSocketFile() }
        let master = try MasterProcess.start(workers: 2, gracefulTimeout: 5, activatedSocket: owned.fileDescriptor)
        defer { master.cleanUp() }
        _ = try master.waitForWorkers(2)
        let response = try fastCGIGet(socketPath: path, path: "/products/1")
        #expect(response.hasPrefix("Status: 503"), "\(response)\n\(master.log())")
        #expect(master.log().contains("address=systemd"), "\(master.log())")
        kill(master.pid, SIGTERM)
        #expect(master.waitForExit(within: .seconds(7)) == .exited(0), "\(master.log())")
        #expect(fileMode(path) != nil, "the master removed the socket file it does not own")
        #expect(canConnect(path), "the passed socket no longer listens after the master exited")
    }

    @Test func refusesToStartWithoutThePassedSocket() throws {
        // --listen systemd outside socket activation: a clear error, exit 1.
        let master = try MasterProcess.start(workers: 1, gracefulTimeout: 5, socketPath: "systemd")
        defer { master.cleanUp() }
        #expect(master.waitForExit(within: .seconds(5)) == .exited(1))
        #expect(master.log().contains("no socket passed"), "\(master.log())")
    }

    /// Issue 13, item 3: started as root, the master binds the socket as root, then it and
    /// every worker run as --user, with none of root's groups.
    @Test(.enabled(if: getuid() == 0, "needs root"))
    func startedAsRootItRunsAsTheGivenUser() throws {
        let master = try MasterProcess.start(workers: 2, gracefulTimeout: 5, user: "nobody")
        defer { master.cleanUp() }
        let workers = try master.waitForWorkers(2)
        let nobody = try #require(getpwnam("nobody")).pointee
        for pid in [master.pid] + workers.sorted() {
            let ids = try #require(credentials(of: pid), "\(master.log())")
            #expect(ids.uids == Array(repeating: nobody.pw_uid, count: 4), "pid \(pid): \(ids)")
            #expect(ids.gids == Array(repeating: nobody.pw_gid, count: 4), "pid \(pid): \(ids)")
            #expect(!ids.groups.contains(0), "pid \(pid) kept root's group: \(ids)")
        }
        // The socket was bound before the switch, and is still served.
        let response = try fastCGIGet(socketPath: master.socketPath, path: "/products/1")
        #expect(response.hasPrefix("Status: 503"), "\(response)")
        kill(master.pid, SIGTERM)
        #expect(master.waitForExit(within: .seconds(7)) == .exited(0))
        #expect(fileMode(master.socketPath) == nil, "the socket file is removed as that user too")
    }

    @Test(.enabled(if: getuid() == 0, "needs root"))
    func startedAsRootWithoutAUserItRefusesToStart() throws {
        let master = try MasterProcess.start(workers: 1, gracefulTimeout: 5, user: nil)
        defer { master.cleanUp() }
        let status = try #require(master.waitForExit(within: .seconds(5)), "\(master.log())")
        #expect(status != .exited(0))
        #expect(master.log().contains("refusing to run as root; pass --user NAME"), "\(master.log())")
        #expect(fileMode(master.socketPath) == nil, "nothing was bound")
    }

    @Test(.enabled(if: getuid() != 0, "needs a normal user"))
    func notRootItRefusesAnotherUser() throws {
        let master = try MasterProcess.start(workers: 1, gracefulTimeout: 5, user: "root")
        defer { master.cleanUp() }
        #expect(master.waitForExit(within: .seconds(5)) != .exited(0))
        #expect(master.log().contains("only root can switch"), "\(master.log())")
    }

    @Test func refusesASocketAnotherMasterIsServing() throws {
        let first = try MasterProcess.start(workers: 1, gracefulTimeout: 5)
        defer { first.cleanUp() }
        _ = try first.waitForWorkers(1)
        let second = try MasterProcess.start(workers: 1, gracefulTimeout: 5, socketPath: first.socketPath)
        defer { second.cleanUp() }
        #expect(second.waitForExit(within: .seconds(5)) == .exited(1))
        #expect(second.log().contains("another server is already listening"), "\(second.log())")
        #expect(canConnect(first.socketPath), "the first master's socket was left alone")
        kill(first.pid, SIGTERM)
        #expect(first.waitForExit(within: .seconds(7)) == .exited(0))
    }
}

// MARK: - A master under test

private final class MasterProcess {
    let pid: pid_t
    let directory: String
    let socketPath: String
    var logPath: String { directory + "/master.log" }
    /// waitpid reports a status once; kept for later calls.
    private var exitStatus: Supervisor.ExitStatus?

    private init(pid: pid_t, directory: String, socketPath: String) {
        self.pid = pid
        self.directory = directory
        self.socketPath = socketPath
    }

    /// Tests run as root here: the master must then be given a user (it refuses to run as root).
    static let unprivilegedUser: String? = getuid() == 0 ? "nobody" : nil

    /// `activatedSocket`: a listening socket this test bound, passed the way systemd's socket
    /// activation does (fd 3, `LISTEN_FDS=1`, `LISTEN_PID` = the server's pid, through a shell
    /// that sets it and execs), with `--listen systemd`.

    static func start(workers: Int, gracefulTimeout: Int, socketPath: String? = nil,
                      ownProcessGroup: Bool = false, activatedSocket: Int32? = nil,
                      user: String? = unprivilegedUser) throws -> MasterProcess {
        let binary = try productsServerBinary()
        var template = Array("/tmp/products-master-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SyscallError(function: "mkdtemp", errno: errno)
        }
        let directory = String(cString: made)
        let socketPath = socketPath ?? directory + "/fcgi.sock"
        var arguments = [
            binary, "--workers", "\(workers)", "--listen", activatedSocket == nil ? socketPath : "systemd",
            // Nothing listens on port 1: the connection is refused at once.
            "--database", "host=127.0.0.1 port=1 dbname=products connect_timeout=2",
            "--graceful-timeout", "\(gracefulTimeout)", "--socket-mode", "0660",
        ] + (user.map { ["--user", $0] } ?? [])
        // The master removes its socket at exit as that user: the directory must let it.
        if let user, let account = getpwnam(user) { chown(directory, account.pointee.pw_uid, account.pointee.pw_gid) }
        if activatedSocket != nil {
            arguments = ["/bin/sh", "-c", #"LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@""#] + arguments
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, directory + "/master.log", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        if let activatedSocket { posix_spawn_file_actions_adddup2(&actions, activatedSocket, 3) }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        }
        var pid: pid_t = 0
        let error = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard error == 0 else { throw SyscallError(function: "posix_spawn(\(arguments[0]))", errno: error) }
        return MasterProcess(pid: pid, directory: directory, socketPath: socketPath)
    }

    /// The binary sits next to the test bundle: `.build-<scratch>/<triple>/debug/`.
    private static func productsServerBinary() throws -> String {
        if let override = getenv("PRODUCTS_SERVER_BINARY") { return String(cString: override) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { throw SyscallError(function: "readlink(/proc/self/exe)", errno: errno) }
        let testBinary = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var components = testBinary.split(separator: "/", omittingEmptySubsequences: false)
        // .../debug/productsPackageTests.xctest (Linux: an executable file)
        while let last = components.last, !last.hasSuffix(".xctest") { components.removeLast() }
        components.removeLast()
        let binary = components.joined(separator: "/") + "/products-server"
        guard access(binary, X_OK) == 0 else {
            Issue.record("products-server is not built at \(binary): run `swift build` first, or set PRODUCTS_SERVER_BINARY")
            throw SyscallError(function: "access(\(binary))", errno: ENOENT)
        }
        return binary
    }

    /// Waits until exactly `count` live workers run, each ready (it catches SIGTERM: its
    /// graceful-stop handler is installed), and `condition` holds; returns their pids.
    func waitForWorkers(_ count: Int, within timeout: Duration = .seconds(10),
                        until condition: (Set<pid_t>) -> Bool = { _ in true }) throws -> Set<pid_t> {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let current = liveChildren(of: pid)
            if current.count == count && current.allSatisfy(catchesSIGTERM) && condition(current) { return current }
            if waitForExit(within: .zero) != nil { break }
            usleep(50_000)
        }
        Issue.record("expected \(count) workers; have \(liveChildren(of: pid).sorted())\n\(log())")
        throw SyscallError(function: "waitForWorkers", errno: ETIMEDOUT)
    }

    /// The master's exit status once reaped, or nil if it is still running at the deadline.
    func waitForExit(within timeout: Duration) -> Supervisor.ExitStatus? {
        let deadline = ContinuousClock.now + timeout
        while exitStatus == nil {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                exitStatus = Supervisor.ExitStatus(waitStatus: status)
                break
            }
            if ContinuousClock.now >= deadline { return nil }
            usleep(20_000)
        }
        return exitStatus
    }

    func log() -> String { (try? readFile(logPath)) ?? "(no log)" }

    /// Leaves nothing behind even when a test failed half-way.
    func cleanUp() {
        if waitForExit(within: .zero) == nil {
            // Freeze the master first: a running one would respawn the workers killed here,
            // and those would outlive it.
            kill(pid, SIGSTOP)
            for child in liveChildren(of: pid) { kill(child, SIGKILL) }
            kill(pid, SIGKILL)
            _ = waitForExit(within: .seconds(5))
        }
        unlink(logPath)
        unlink(directory + "/fcgi.sock")
        rmdir(directory)
    }
}

// MARK: - Helpers: /proc, sockets, a minimal FastCGI client

private func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    return lstat(path, &info) == 0 ? info.st_mode : nil
}

private func readFile(_ path: String) throws -> String {
    let fd = try syscall("open(\(path))") { open(path, O_RDONLY | O_CLOEXEC) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = try chunk.withUnsafeMutableBytes { buffer in try syscall("read") { read(fd, buffer.baseAddress, buffer.count) } }
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Children of `parent` that are alive (not zombies), from /proc/<pid>/stat.
private func liveChildren(of parent: pid_t) -> Set<pid_t> {
    guard let directory = opendir("/proc") else { return [] }
    defer { closedir(directory) }
    var children: Set<pid_t> = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let pid = pid_t(name), let stat = try? readFile("/proc/\(name)/stat"),
              let close = stat.lastIndex(of: ")") else { continue }
        // "pid (comm) state ppid ...": comm may contain spaces, so split after the last ')'.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, fields[0] != "Z", pid_t(fields[1]) == parent else { continue }
        children.insert(pid)
    }
    return children
}

/// Real, effective, saved and filesystem uids and gids, and supplementary groups, from
/// /proc/<pid>/status.
private func credentials(of pid: pid_t) -> (uids: [UInt32], gids: [UInt32], groups: [UInt32])? {
    guard let status = try? readFile("/proc/\(pid)/status") else { return nil }
    func field(_ name: String) -> [UInt32]? {
        status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            .map { $0.dropFirst(name.count + 1).split(whereSeparator: \.isWhitespace).compactMap { UInt32($0) } }
    }
    guard let uids = field("Uid"), let gids = field("Gid"), let groups = field("Groups") else { return nil }
    return (uids, gids, groups)
}

/// From the `SigCgt` mask in /proc/<pid>/status.
private func catchesSIGTERM(_ pid: pid_t) -> Bool {
    guard let status = try? readFile("/proc/\(pid)/status"),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
          let mask = UInt64(line.dropFirst("SigCgt:".count).trimmingPrefix(while: \.isWhitespace), radix: 16)
    else { return false }
    return mask & (1 << (SIGTERM - 1)) != 0
}

private func connectUnix(_ path: String) -> Int32? {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return nil }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8).prefix($0.count - 1)) }
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard result == 0 else { close(fd); return nil }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return fd
}

private func canConnect(_ path: String) -> Bool {
    guard let fd = connectUnix(path) else { return false }
    close(fd)
    return true
}

/// One FastCGI GET (what nginx sends, minus most params); returns the CGI response text.
private func fastCGIGet(socketPath: String, path: String) throws -> String {
    let client = try FastCGIClient(unixPath: socketPath)
    try client.send(FastCGIClient.get(path, keepConnection: false))
    return try client.readResponse()
}
