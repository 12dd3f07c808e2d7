#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call: which one, and its `errno`.
public struct SyscallError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The call that failed, e.g. `"bind"`.
    public let function: String
    public let errno: Int32

    public init(function: String, errno: Int32) {
        self.function = function
        self.errno = errno
    }

    public var description: String {
        "\(function) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Runs a system call that reports failure as `-1` + `errno`: retries on `EINTR`, throws
/// any other error (the swift-nio `System.swift` pattern), so call sites stay one line.
///
///     let fd = try syscall("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0) }
@discardableResult
@inline(__always)
public func syscall<T: FixedWidthInteger>(_ function: String, _ body: () -> T) throws(SyscallError) -> T {
    while true {
        let result = body()
        if result == -1 {
            let error = errno
            if error == EINTR { continue }
            throw SyscallError(function: function, errno: error)
        }
        return result
    }
}

/// Runs a call that returns its error number instead of setting `errno`
/// (`posix_spawn`, `posix_spawnattr_*`, `pthread_*`): `0` is success; retries on `EINTR`.
@inline(__always)
public func syscallReturningError(_ function: String, _ body: () -> Int32) throws(SyscallError) {
    while true {
        let error = body()
        if error == 0 { return }
        if error == EINTR { continue }
        throw SyscallError(function: function, errno: error)
    }
}

/// For calls whose failures the caller sorts out itself (EAGAIN on a non-blocking socket,
/// EINPROGRESS, EOF): retries on `EINTR` only and returns the result, `errno` intact.
///
///     let n = retryingEINTR { read(fd, buffer, count) }
///     if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
@inline(__always)
public func retryingEINTR<T: FixedWidthInteger & SignedInteger>(_ call: () -> T) -> T {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}

/// Writes all of `bytes` to `fd` (a blocking descriptor), however many `write`s it takes.
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, function: String = "write") throws(SyscallError) {
    guard var base = bytes.baseAddress else { return }
    var left = bytes.count
    while left > 0 {
        let n = try syscall(function) { write(fd, base, left) }
        base += n
        left -= n
    }
}
