/// The FastCGI connections one worker holds, and every decision about them, without sockets:
/// which to serve, which to wait for, which to close, which may make room for a new one.
/// `WorkerLoop.run` is the I/O shell that peeks, accepts and closes (the Supervisor
/// pattern: events in, actions out).
///
/// Two rules it exists for:
///
/// - A connection is handed to libfcgi only once a whole request is buffered on it
///   (``FastCGIRequestScan``): libfcgi reads blocking and without a timeout, so a partial record
///   would otherwise pin the worker for as long as the sender likes. A connection whose request
///   stays incomplete for ``partialTimeout`` is closed.
/// - With every slot taken, a new connection may replace the least recently used kept
///   connection, but never one with unread input: nginx may just have sent a request on it,
///   and closing it would lose that request ("upstream prematurely closed connection").
struct KeptConnections {
    /// What a peek at a readable connection found.
    enum Peek: Equatable {
        /// A whole request (BEGIN_REQUEST through the empty STDIN record) is buffered.
        case complete
        /// Some bytes of a request, not all of them yet.
        case incomplete
        /// End of file or an error: the peer is gone.
        case closed
        /// Not FastCGI, or a request larger than the worker ever peeks at.
        case malformed
    }

    enum Action: Equatable {
        /// Hand the connection to libfcgi: its request is buffered, reading it cannot block.
        case serve(Int32)
        /// Nothing to do until more bytes arrive (the connection is polled again later).
        case wait
        /// Close it and forget it.
        case close(Int32, CloseReason)
    }

    enum CloseReason: Equatable, CustomStringConvertible {
        case peerClosed, malformed, incompleteTooLong

        var description: String {
            switch self {
            case .peerClosed: "closed by the peer"
            case .malformed: "not a FastCGI request the worker accepts"
            case .incompleteTooLong: "request still incomplete after the timeout"
            }
        }
    }

    struct Entry: Equatable {
        let fd: Int32
        /// Larger is more recent (a counter, not a time: only the order matters).
        var lastUsed: UInt64
        /// When a peek first found an incomplete request on it; nil while idle or complete.
        var incompleteSince: ContinuousClock.Instant?
        /// When the worker last saw nothing to read on it (``sawQuiet(_:at:)``): a request read
        /// on it later reached this host after that. nil: not known.
        var quietSince: ContinuousClock.Instant? = nil
    }

    let capacity: Int
    let partialTimeout: Duration
    private(set) var entries: [Entry] = []
    private var counter: UInt64 = 0

    init(capacity: Int, partialTimeout: Duration) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.partialTimeout = partialTimeout
    }

    var isFull: Bool { entries.count >= capacity }

    /// Whether the listening socket is worth polling: a free slot, or a kept connection that
    /// could make room. With every slot holding an incomplete request, new connections wait in
    /// the backlog (for another worker, or until a timeout frees a slot) instead of waking this
    /// worker in a loop for a connection it cannot take.
    var canTakeAConnection: Bool { !isFull || entries.contains { $0.incompleteSince == nil } }

    /// Connections to poll for input. Those with an incomplete request are left out: poll is
    /// level-triggered and would report their unread bytes again at once; the shell re-peeks
    /// them on a short timer instead (``incomplete``, ``recheckInterval``).
    var awaitingInput: [Int32] { entries.filter { $0.incompleteSince == nil }.map(\.fd) }

    /// Connections holding an incomplete request: peeked again on every turn of the loop.
    var incomplete: [Int32] { entries.filter { $0.incompleteSince != nil }.map(\.fd) }

    /// How long the shell may sleep in poll: short while a request is incomplete (its remaining
    /// bytes are not polled for), else `idle`.
    func pollTimeout(idle: Duration) -> Duration {
        incomplete.isEmpty ? idle : Self.recheckInterval
    }

    /// How often an incomplete request is looked at again. nginx writes a request at once, so
    /// a split one completes within microseconds: this delays it by at most this much.
    static let recheckInterval: Duration = .milliseconds(5)

    /// A connection was accepted into a free slot; `quietSince`: when the listening socket
    /// last had nothing to accept (the connection, and so its request, came after).
    mutating func accepted(_ fd: Int32, quietSince: ContinuousClock.Instant? = nil) {
        precondition(!isFull)
        counter += 1
        entries.append(Entry(fd: fd, lastUsed: counter, incompleteSince: nil, quietSince: quietSince))
    }

    /// The shell's poll found nothing to read on `fds` at `now`; they come in ``awaitingInput``'s
    /// order (the poll set is built from it), which makes this one walk. An fd out of that
    /// order ends the walk: the ones after it keep their earlier time, which is only less tight.
    mutating func sawQuiet(_ fds: some Sequence<Int32>, at now: ContinuousClock.Instant) {
        var index = entries.startIndex
        for fd in fds {
            while index < entries.endIndex, entries[index].fd != fd { index += 1 }
            guard index < entries.endIndex else { return }
            entries[index].quietSince = now
            index += 1
        }
    }

    /// When the worker last saw nothing to read on `fd` (nil: not known).
    func quietSince(of fd: Int32) -> ContinuousClock.Instant? {
        entries.first { $0.fd == fd }?.quietSince
    }

    /// A peek at `fd` (reported readable, or holding an incomplete request) found `peek`.
    mutating func peeked(_ fd: Int32, _ peek: Peek, now: ContinuousClock.Instant) -> Action {
        guard let index = entries.firstIndex(where: { $0.fd == fd }) else { return .wait }
        switch peek {
        case .complete:
            counter += 1
            entries[index].lastUsed = counter
            entries[index].incompleteSince = nil
            return .serve(fd)
        case .incomplete:
            let since = entries[index].incompleteSince ?? now
            entries[index].incompleteSince = since
            if since.duration(to: now) >= partialTimeout {
                entries.remove(at: index)
                return .close(fd, .incompleteTooLong)
            }
            return .wait
        case .closed:
            entries.remove(at: index)
            return .close(fd, .peerClosed)
        case .malformed:
            entries.remove(at: index)
            return .close(fd, .malformed)
        }
    }

    /// The connection is gone (libfcgi closed it after a request, or the shell closed it).
    mutating func removed(_ fd: Int32) {
        entries.removeAll { $0.fd == fd }
    }

    /// Kept connections that may be closed to make room, least recently used first.
    var evictionCandidates: [Int32] {
        entries.filter { $0.incompleteSince == nil }.sorted { $0.lastUsed < $1.lastUsed }.map(\.fd)
    }

    /// What to do before accepting a new connection.
    enum Room: Equatable {
        /// A slot is free: accept.
        case free
        /// Close this connection (already forgotten here), then accept.
        case evicted(Int32)
        /// Every candidate has unread input, i.e. a request nginx has sent: serve those first,
        /// leave the new connection in the backlog for now.
        case none
    }

    /// Makes room for a new connection when every slot is taken: the least recently used idle
    /// connection that has no unread input (`hasUnreadInput`, the shell's one-byte peek, asked
    /// just before the close so that the window for a request to arrive is one system call).
    mutating func makeRoom(hasUnreadInput: (Int32) -> Bool) -> Room {
        guard isFull else { return .free }
        guard let victim = evictionCandidates.first(where: { !hasUnreadInput($0) }) else { return .none }
        removed(victim)
        return .evicted(victim)
    }
}

/// Whether a whole FastCGI request is buffered: the records from the start of `bytes` up to
/// and including the empty STDIN record that ends a request (FastCGI 1.0, section 3.3: an
/// 8-byte header — version, type, request id, content length, padding length, reserved —
/// then content and padding).
///
/// That is what libfcgi reads before `FCGX_Accept_r` returns (BEGIN_REQUEST and every
/// PARAMS record) and what `FCGX_Finish_r` reads to discard the rest of STDIN: with all of it
/// buffered, neither can block. nginx writes a request in one go (GET or HEAD, no body: the
/// config caps bodies at 1k), so it is complete at the first peek.
enum FastCGIRequestScan {
    /// The most a worker peeks at. nginx's parameters are a few hundred bytes; a request that
    /// does not fit is not one nginx sends.
    static let peekLimit = 64 * 1024

    static func scan(_ bytes: UnsafeRawBufferPointer) -> KeptConnections.Peek {
        var offset = 0
        var begun = false
        while bytes.count - offset >= 8 {
            let version = bytes[offset]
            let type = bytes[offset + 1]
            let length = Int(bytes[offset + 4]) << 8 | Int(bytes[offset + 5])
            let padding = Int(bytes[offset + 6])
            guard version == 1 else { return .malformed }
            let end = offset + 8 + length + padding
            guard end <= bytes.count else { break }
            switch type {
            case 1: begun = true                          // FCGI_BEGIN_REQUEST
            case 5 where length == 0 && begun: return .complete  // FCGI_STDIN, end of stream
            default: break
            }
            offset = end
        }
        return bytes.count >= peekLimit ? .malformed : .incomplete
    }
}
