import CFastCGI
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An error from libfcgi: `code` is an `errno` value when positive, libfcgi's own code
/// (e.g. -9999) otherwise.
public struct FastCGIError: Error, Hashable, Sendable, CustomStringConvertible {
    public let operation: String
    public let code: Int32

    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    public var description: String {
        if code > 0 { return "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))" }
        return "\(operation) failed (libfcgi code \(code))"
    }
}

/// Process-wide libfcgi state: initialisation and graceful shutdown.
///
/// How a libfcgi worker stops gracefully (libfcgi 2.4.2, `os_unix.c`): `FCGX_Init` installs,
/// when they are still at their defaults, a no-op SIGPIPE handler (so a write to a client
/// that went away fails with EPIPE instead of killing the process) and a SIGTERM/SIGUSR1
/// handler that sets libfcgi's `shutdownPending`, without `SA_RESTART`. A worker blocked in
/// `accept()` is then interrupted, sees the flag and `FCGX_Accept_r` returns a negative
/// value; a worker in the middle of a request finishes it first, and its next
/// `FCGX_Accept_r` returns at once. ``installShutdownHandlers(for:)`` installs the same
/// behaviour explicitly (also for SIGINT, so a Ctrl-C in a terminal stops workers as
/// gracefully as the master) and records that the stop was asked for, so the worker can tell
/// a requested stop from a failing `accept()`.
public enum FastCGIRuntime {
    /// `FCGX_Init`. Idempotent; ``FastCGIRequest/init(listeningSocket:)`` calls it too.
    public static func initialize() throws(FastCGIError) {
        let rc = FCGX_Init()
        if rc != 0 { throw FastCGIError(operation: "FCGX_Init", code: rc) }
    }

    /// The signals ``installShutdownHandlers(for:)`` catches by default.
    public static let defaultShutdownSignals: [Int32] = [SIGTERM, SIGINT, SIGUSR1]

    /// Makes each of `signals` mean "finish the current request, then stop accepting".
    /// Call after ``initialize()``: it replaces libfcgi's own handlers for these signals.
    /// SIGPIPE keeps libfcgi's no-op handler (or the SIG_IGN inherited from the master).
    public static func installShutdownHandlers(for signals: [Int32] = defaultShutdownSignals) throws(FastCGIError) {
        // Touch the global now: its lazy initialisation must never run inside a handler.
        _ = shutdownRequested.load(ordering: .relaxed)
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = shutdownSignalHandler
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0  // no SA_RESTART: a blocked accept() must return EINTR
            if sigaction(signal, &action, nil) != 0 {
                throw FastCGIError(operation: "sigaction(\(signal))", code: errno)
            }
        }
    }

    /// True once a shutdown signal arrived (or ``requestShutdown()`` was called).
    public static var isShutdownRequested: Bool { shutdownRequested.load(ordering: .relaxed) }

    /// What the signal handler does: a blocked `FCGX_Accept_r` notices at its next wake-up,
    /// a later one returns at once.
    public static func requestShutdown() {
        shutdownRequested.store(true, ordering: .relaxed)
        FCGX_ShutdownPending()
    }
}

private let shutdownRequested = Atomic<Bool>(false)

/// Async-signal-safe: an atomic store and libfcgi's `shutdownPending = TRUE`.
private let shutdownSignalHandler: @convention(c) (Int32) -> Void = { _ in
    shutdownRequested.store(true, ordering: .relaxed)
    FCGX_ShutdownPending()
}
