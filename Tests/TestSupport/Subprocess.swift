import SystemCalls
import CSystemShims
#if canImport(Glibc)
import Glibc
#endif

/// Starts and waits for child processes with posix_spawn and waitpid.
///
/// Not Foundation's `Process`: on Linux its `waitUntilExit` was seen here never returning
/// for a child that had already exited (left a zombie), which hung the whole test run.
public enum Subprocess {
    public struct Output: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs `argv` to completion, capturing stdout and stderr.
    public static func run(_ argv: [String], environment: [String: String]? = nil) throws -> Output {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        // Close-on-exec: tests spawn from several threads at once, and a pipe created without it
        // leaks into whatever another thread spawns meanwhile. A PostgreSQL server started by
        // pgcluster then held the other run's pipe open for ever, and its drain() never saw EOF
        // (CI hung at two TestCluster inits). The child's own ends reach it through dup2, which
        // clears the flag on the copy.
        guard products_pipe_cloexec(&outPipe) == 0, products_pipe_cloexec(&errPipe) == 0 else { throw SpawnError(description: "pipe: errno \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        let pid = try spawn(argv, environment: environment, actions: &actions)
        close(outPipe[1]); close(errPipe[1])
        let (out, err) = drain(outPipe[0], errPipe[0])
        close(outPipe[0]); close(errPipe[0])
        let status = wait(pid)
        return Output(status: status, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }

    /// Starts `argv` in the background with stdout and stderr appended to `logPath`.
    /// Returns its pid; stop it with `kill` and reap it with `wait`.
    public static func start(_ argv: [String], logPath: String, environment: [String: String]? = nil) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        return try spawn(argv, environment: environment, actions: &actions)
    }

    /// Waits for `pid` and returns its exit status (128 + signal when killed by one).
    @discardableResult
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        guard retryingEINTR({ waitpid(pid, &status, 0) }) >= 0 else { return -1 }
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }

    private static func spawn(_ argv: [String], environment: [String: String]?, actions: inout posix_spawn_file_actions_t) throws -> pid_t {
        let env = environment.map { $0.map { "\($0.key)=\($0.value)" } }
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = (env ?? []).map { strdup($0) } + [nil]
        defer { for p in cArgs + cEnv { free(p) } }
        var pid: pid_t = 0
        let rc: Int32
        if env != nil {
            rc = posix_spawnp(&pid, argv[0], &actions, nil, &cArgs, &cEnv)
        } else {
            rc = posix_spawnp(&pid, argv[0], &actions, nil, &cArgs, environ)
        }
        guard rc == 0 else { throw SpawnError(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    private static func drain(_ a: Int32, _ b: Int32) -> ([UInt8], [UInt8]) {
        var out: [[UInt8]] = [[], []]
        var fds = [pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0)]
        var open = 2
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open > 0 {
            if retryingEINTR({ poll(&fds, 2, -1) }) < 0 { break }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { b in retryingEINTR { read(fds[i].fd, b.baseAddress, b.count) } }
                if n > 0 { out[i].append(contentsOf: buffer[0..<n]) } else {
                    fds[i].fd = -1; open -= 1
                }
            }
        }
        return (out[0], out[1])
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}
