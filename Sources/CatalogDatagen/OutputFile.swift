import SystemCalls
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors from the file system, with the path and errno text.
public struct DatagenError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ what: String, path: String, errno code: Int32) {
        description = "\(what) \(path): \(String(cString: strerror(code)))"
    }
    init(_ message: String) { description = message }
}

/// Interned byte strings: the vocabulary, pre-encoded (quotes already doubled) and kept in one
/// allocation for the whole run, so appending a word is one `memcpy`.
struct Bytes: @unchecked Sendable {
    let start: UnsafePointer<UInt8>
    let count: Int

    init(_ text: String) {
        var utf8 = Array(text.utf8)
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(utf8.count, 1))
        p.initialize(from: &utf8, count: utf8.count)
        start = UnsafePointer(p)
        count = utf8.count
    }

    var string: String { String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self) }
}

/// A write-only file behind a large buffer: rows are assembled in place from bytes and the
/// buffer goes to the kernel with `write(2)` a few megabytes at a time.
///
/// A struct used `inout` by one writer on one thread (no locks, no exclusivity checks at run
/// time). `close()` must be called; it is the only place that reports the final size.
struct OutputFile {
    static let bufferSize = 4 << 20
    /// Room kept free for the next row: larger than any row the generator writes.
    private static let slack = 64 << 10

    let path: String
    private let fd: Int32
    private let base: UnsafeMutablePointer<UInt8>
    /// Bytes in the buffer, not yet written.
    private(set) var count = 0
    /// Bytes already handed to the kernel.
    private(set) var flushed = 0
    private let onFlush: (Int) -> Void

    init(path: String, onFlush: @escaping (Int) -> Void) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw DatagenError("cannot create", path: path, errno: errno) }
        base = .allocate(capacity: Self.bufferSize + Self.slack)
        self.onFlush = onFlush
    }

    var totalBytes: Int { flushed + count }

    /// Call before each row: flushes when the buffer is nearly full.
    @inline(__always)
    mutating func reserve() throws {
        if count >= Self.bufferSize { try flush() }
    }

    mutating func flush() throws {
        do {
            try writeAll(fd, UnsafeRawBufferPointer(start: base, count: count))
        } catch {
            throw DatagenError("cannot write", path: path, errno: error.errno)
        }
        flushed += count
        count = 0
        onFlush(flushed)
    }

    /// Flushes and closes. `dropFinalNewline` removes a trailing `\n` still in the buffer
    /// (the last row is always written after a `reserve()`, so it is still there).
    mutating func close(dropFinalNewline: Bool = false) throws {
        if dropFinalNewline && count > 0 && base[count - 1] == 0x0A { count -= 1 }
        try flush()
        base.deallocate()
        if closeDescriptor(fd) != 0 { throw DatagenError("cannot close", path: path, errno: errno) }
    }

    // MARK: appending

    @inline(__always)
    mutating func byte(_ b: UInt8) {
        base[count] = b
        count += 1
    }

    @inline(__always)
    mutating func bytes(_ b: Bytes) {
        (base + count).update(from: b.start, count: b.count)
        count += b.count
    }

    @inline(__always)
    mutating func ascii(_ s: StaticString) {
        (base + count).update(from: s.utf8Start, count: s.utf8CodeUnitCount)
        count += s.utf8CodeUnitCount
    }

    /// A non-negative or negative integer in decimal, without Foundation or String.
    @inline(__always)
    mutating func int(_ value: Int) {
        var v = value
        if v < 0 {
            byte(UInt8(ascii: "-"))
            v = -v
        }
        var digits = 1
        var t = v
        while t >= 10 { t /= 10; digits += 1 }
        var i = count + digits - 1
        repeat {
            base[i] = UInt8(truncatingIfNeeded: v % 10) &+ 48
            v /= 10
            i -= 1
        } while v > 0
        count += digits
    }

    /// A price given in cents with 0, 1 or 2 decimals (`140`, `49.5`, `69.99`).
    @inline(__always)
    mutating func price(cents: Int, decimals: Int) {
        int(cents / 100)
        switch decimals {
        case 0: break
        case 1:
            byte(UInt8(ascii: "."))
            byte(UInt8(truncatingIfNeeded: (cents % 100) / 10) &+ 48)
        default:
            byte(UInt8(ascii: "."))
            byte(UInt8(truncatingIfNeeded: (cents % 100) / 10) &+ 48)
            byte(UInt8(truncatingIfNeeded: cents % 10) &+ 48)
        }
    }

    /// The bytes between two offsets of the current row (values of `count` taken while writing it),
    /// decoded leniently; only for the manifest's samples.
    func string(from start: Int, to end: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: base + start, count: end - start), as: UTF8.self)
    }

    /// Overwrites one byte already in the buffer (to damage a field after writing it).
    @inline(__always)
    mutating func poke(_ offset: Int, _ b: UInt8) { base[offset] = b }

    /// Inserts bytes at `offset` inside the current row, shifting the rest right.
    mutating func insert(_ b: [UInt8], at offset: Int) {
        let tail = count - offset
        memmove(base + offset + b.count, base + offset, tail)
        for (i, x) in b.enumerated() { base[offset + i] = x }
        count += b.count
    }
}

@inline(__always)
private func closeDescriptor(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.close(fd)
    #else
    Darwin.close(fd)
    #endif
}

extension OutputFile {
    /// A byte already in the buffer (offset within the current row).
    func peek(_ offset: Int) -> UInt8 { base[offset] }
}

extension OutputFile {
    /// Takes back the last n bytes of the current row.
    mutating func unwrite(_ n: Int) { count -= n }
}
