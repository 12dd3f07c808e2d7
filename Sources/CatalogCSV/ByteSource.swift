import SystemCalls
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file and a sliding window over it: `buffer[start..<end]` holds bytes read but not yet
/// consumed. `refill` keeps the unconsumed tail, moves it to the front and reads behind it,
/// growing the buffer (doubling) only when a single record fills it.
///
/// Owns the descriptor and the buffer; `deinit` is the only place they are released.
final class ByteSource {
    let path: String
    let size: Int
    private let fd: Int32
    private(set) var buffer: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    var start = 0
    private(set) var end = 0
    private(set) var atEOF = false
    private(set) var bytesRead = 0

    init(path: String, bufferSize: Int) throws(CSVFileError) {
        let fd = retryingEINTR { open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else {
            let code = errno
            throw code == ENOENT ? .missing(path: path) : .unreadable(path: path, errno: code)
        }
        var info = stat()
        if fstat(fd, &info) != 0 || (info.st_mode & S_IFMT) == S_IFDIR {
            let code = (info.st_mode & S_IFMT) == S_IFDIR ? EISDIR : errno
            close(fd)
            throw .unreadable(path: path, errno: code)
        }
        #if os(Linux)
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        #endif
        self.fd = fd
        self.path = path
        self.size = Int(info.st_size)
        self.capacity = max(bufferSize, 64)
        self.buffer = .allocate(capacity: capacity)
    }

    deinit {
        buffer.deallocate()
        close(fd)
    }

    /// Reads more bytes behind the unconsumed ones. Returns false when nothing more can come
    /// because the file ended (`atEOF` is then set). Grows the buffer if the unconsumed bytes
    /// fill it, up to `maxCapacity`; returns false without reading when that is not possible
    /// and the window is full (the caller decides what to do with an oversized record).
    func refill(maxCapacity: Int) throws(CSVFileError) -> Bool {
        if atEOF { return false }
        if start > 0 {
            let pending = end - start
            if pending > 0 { buffer.update(from: buffer + start, count: pending) }
            start = 0
            end = pending
        }
        if end == capacity {
            guard capacity < maxCapacity else { return false }
            let grown = min(capacity * 2, maxCapacity)
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
            bigger.update(from: buffer, count: end)
            buffer.deallocate()
            buffer = bigger
            capacity = grown
        }
        let n = retryingEINTR { read(fd, buffer + end, capacity - end) }
        if n < 0 { throw .unreadable(path: path, errno: errno) }
        if n == 0 {
            atEOF = true
            return false
        }
        end += n
        bytesRead += n
        return true
    }

    /// Back to the first byte of the file (the buffer keeps its size).
    func rewind() throws(CSVFileError) {
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw .unreadable(path: path, errno: errno) }
        start = 0
        end = 0
        atEOF = false
        bytesRead = 0
    }

    /// Whether the window is full of unconsumed bytes and cannot grow any more.
    func isFull(maxCapacity: Int) -> Bool {
        end - start == capacity && capacity >= maxCapacity
    }
}
