import SystemCalls
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Which signal means what to the master: named configuration, not scattered `case SIGTERM:`s
/// (the swift-service-lifecycle idea). php-fpm differs: there SIGQUIT is the graceful one.
public struct SignalPolicy: Sendable, Equatable {
    /// Finish in-flight requests, then exit (systemd's stop signal; Ctrl-C).
    public var graceful: Set<Int32> = [SIGTERM, SIGINT]
    /// Kill the workers now and exit.
    public var immediate: Set<Int32> = [SIGQUIT]
    /// Replace every worker: new generation first, then retire the old one.
    public var reload: Set<Int32> = [SIGHUP]

    public init() {}

    /// What `signal` asks the supervisor to do, or `nil` for signals it does not act on.
    public func command(for signal: Int32) -> Supervisor.Command? {
        if graceful.contains(signal) { return .terminate }
        if immediate.contains(signal) { return .quit }
        if reload.contains(signal) { return .reload }
        return nil
    }

    /// Every signal the master must catch: the policy's, plus SIGCHLD for reaping.
    public var caught: [Int32] { (graceful.union(immediate).union(reload).union([SIGCHLD])).sorted() }
}

/// `SIGTERM` → `"SIGTERM"`, for log lines.
public func signalName(_ signal: Int32) -> String {
    let names: [Int32: String] = [
        SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL",
        SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
        SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1", SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2",
        SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM", SIGCHLD: "SIGCHLD",
        SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ", SIGSYS: "SIGSYS",
    ]
    return names[signal] ?? "signal \(signal)"
}

/// The write end of the self-pipe, read by the signal handler. A `let` global holding an
/// atomic is the only shared state a C signal handler can reach in Swift 6.
private let signalPipeWriteEnd = Atomic<Int32>(-1)

/// The only work done in signal context: write the signal number into the pipe.
/// `write(2)` is async-signal-safe; `errno` is saved so the interrupted code never sees ours.
private let selfPipeHandler: @convention(c) (Int32) -> Void = { signal in
    let savedErrno = errno
    let fd = signalPipeWriteEnd.load(ordering: .acquiring)
    if fd >= 0 {
        var byte = UInt8(truncatingIfNeeded: signal)
        // A full pipe drops the byte: the reader already has a wake-up pending, and
        // SIGCHLD is handled by reaping every exited child, not by counting bytes.
        _ = write(fd, &byte, 1)
    }
    errno = savedErrno
}

/// Self-pipe signal delivery: handlers write the signal number to a non-blocking pipe; the
/// master's loop `poll`s the read end and does all the work in normal context.
///
/// One per process (there is one set of signal dispositions). Both ends are close-on-exec,
/// so workers never inherit them.
public final class SignalPipe {
    /// Poll this for `POLLIN`.
    public let readEnd: Int32
    private let writeEnd: Int32
    private let signals: [Int32]

    public init(catching signals: [Int32]) throws(SyscallError) {
        var fds: [Int32] = [-1, -1]
        try syscall("pipe") { pipe(&fds) }
        readEnd = fds[0]
        writeEnd = fds[1]
        // pipe2 is not visible to Swift (_GNU_SOURCE); no other thread spawns in between.
        for fd in fds {
            try syscall("fcntl(F_SETFD)") { fcntl(fd, F_SETFD, FD_CLOEXEC) }
            try syscall("fcntl(F_SETFL)") { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        }
        self.signals = signals
        guard signalPipeWriteEnd.compareExchange(expected: -1, desired: writeEnd, ordering: .acquiringAndReleasing).exchanged else {
            close(readEnd)
            close(writeEnd)
            throw SyscallError(function: "SignalPipe.init (already installed)", errno: EBUSY)
        }
        // A blocked mask survives exec: a master started from a thread that blocks signals
        // (a test runner's, a careless supervisor's) would never hear SIGCHLD or SIGTERM.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signal in signals { sigaddset(&unblock, signal) }
        try syscallReturningError("pthread_sigmask") { pthread_sigmask(SIG_UNBLOCK, &unblock, nil) }
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = selfPipeHandler
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART | (signal == SIGCHLD ? SA_NOCLDSTOP : 0)
            try syscall("sigaction(\(signalName(signal)))") { sigaction(signal, &action, nil) }
        }
    }

    /// Every signal delivered since the last call, in arrival order (non-blocking).
    public func drain() -> [Int32] {
        var received: [Int32] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let n = buffer.withUnsafeMutableBytes { b in retryingEINTR { read(readEnd, b.baseAddress, b.count) } }
            guard n > 0 else { return received }  // EAGAIN: empty
            received.append(contentsOf: buffer[0..<n].map { Int32($0) })
        }
    }

    /// Restores default dispositions and closes the pipe.
    deinit {
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = SIG_DFL
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
        signalPipeWriteEnd.store(-1, ordering: .releasing)
        close(readEnd)
        close(writeEnd)
    }
}
