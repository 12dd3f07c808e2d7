import SystemCalls
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Starts workers with `posix_spawn`: the master re-executes its own binary
/// (`/proc/self/exe`, so a worker always runs the master's code, even if the file on disk was
/// replaced since) with the worker arguments, the listening socket dup2'ed onto fd 0.
///
/// Never `fork()`: forking a multi-threaded Swift process is unsafe. The spawn attributes are
/// built once and reused.
final class WorkerSpawner {
    /// Signals a worker must start with at their default disposition, whatever the master did
    /// with them: libfcgi only installs its SIGTERM/SIGUSR1 ("finish the request, then exit") and
    /// SIGPIPE handlers over the default, and an ignored disposition would survive exec.
    private static let defaultedSignals: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE, SIGCHLD]

    private let executable = "/proc/self/exe"
    private let argv: [UnsafeMutablePointer<CChar>?]
    private let envp: [UnsafeMutablePointer<CChar>?]
    private let fileActions: UnsafeMutablePointer<posix_spawn_file_actions_t>
    private let attributes: UnsafeMutablePointer<posix_spawnattr_t>

    /// `scoreboard`: a descriptor each worker gets as ``Scoreboard/workerDescriptor`` (fd 3).
    init(listeningSocket: Int32, scoreboard: Int32? = nil, arguments: [String], environment overrides: [String: String]) throws(SyscallError) {
        argv = (arguments.map { strdup($0) }) + [nil]
        envp = WorkerSpawner.environment(overriding: overrides).map { strdup($0) } + [nil]

        fileActions = .allocate(capacity: 1)
        attributes = .allocate(capacity: 1)
        try syscallReturningError("posix_spawn_file_actions_init") { posix_spawn_file_actions_init(fileActions) }
        try syscallReturningError("posix_spawnattr_init") { posix_spawnattr_init(attributes) }
        // fd 0 is FCGI_LISTENSOCK_FILENO. dup2 clears close-on-exec on the copy; every other
        // descriptor of the master is close-on-exec, so a worker starts with 0, 1, 2 only.
        try syscallReturningError("posix_spawn_file_actions_adddup2") {
            posix_spawn_file_actions_adddup2(fileActions, listeningSocket, 0)
        }
        if let scoreboard {
            // After the socket's dup2: under systemd the socket itself may be fd 3.
            try syscallReturningError("posix_spawn_file_actions_adddup2") {
                posix_spawn_file_actions_adddup2(fileActions, scoreboard, Scoreboard.workerDescriptor)
            }
        }
        WorkerSpawner.markDescriptorsCloseOnExec()

        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        try syscallReturningError("posix_spawnattr_setsigmask") { posix_spawnattr_setsigmask(attributes, &emptyMask) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in WorkerSpawner.defaultedSignals { sigaddset(&defaults, signal) }
        try syscallReturningError("posix_spawnattr_setsigdefault") { posix_spawnattr_setsigdefault(attributes, &defaults) }
        // Workers stay in the master's process group: `kill -- -<master pid>` reaches them all,
        // and a terminal's Ctrl-C is a graceful stop for them too (the worker treats SIGINT
        // like SIGTERM).
        let flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        try syscallReturningError("posix_spawnattr_setflags") { posix_spawnattr_setflags(attributes, Int16(flags)) }
    }

    deinit {
        posix_spawn_file_actions_destroy(fileActions)
        posix_spawnattr_destroy(attributes)
        fileActions.deallocate()
        attributes.deallocate()
        for pointer in argv { free(pointer) }
        for pointer in envp { free(pointer) }
    }

    /// Starts one worker. glibc's `posix_spawn` reports a failed `execve` as its result.
    func spawn() throws(SyscallError) -> pid_t {
        var pid: pid_t = 0
        try syscallReturningError("posix_spawn(\(executable))") {
            posix_spawn(&pid, executable, fileActions, attributes, argv, envp)
        }
        return pid
    }

    /// Sets close-on-exec on every open descriptor above 2: whatever the master inherited
    /// (from a shell, a supervisor, a test harness) must not leak into workers.
    /// (`posix_spawn_file_actions_addclosefrom_np` would do it per spawn, but it is not
    /// visible to Swift without _GNU_SOURCE.)
    private static func markDescriptorsCloseOnExec() {
        guard let directory = opendir("/proc/self/fd") else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let fd = Int32(name), fd > 2 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 && flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// The master's environment with `overrides` applied, as `KEY=value` strings.
    private static func environment(overriding overrides: [String: String]) -> [String] {
        var result: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            let variable = String(cString: pointer)
            let key = variable.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? variable
            if overrides[key] == nil { result.append(variable) }
            entry += 1
        }
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) { result.append("\(key)=\(value)") }
        return result
    }
}
