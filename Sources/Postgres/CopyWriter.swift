import CLibPQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Buffers COPY data and hands it to libpq in large chunks.
public struct CopyWriter {
    private let connection: Connection
    private var buffer: [UInt8] = []
    /// How many bytes to gather before a `PQputCopyData` call.
    public static let chunkSize = 1 << 20

    init(connection: Connection) {
        self.connection = connection
        buffer.reserveCapacity(Self.chunkSize + 4096)
    }

    /// Appends raw COPY-format bytes (the caller escapes them). A chunk of half the chunk size
    /// or more goes to libpq as it is, without passing through the buffer.
    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws(PostgresError) {
        if bytes.count >= Self.chunkSize / 2 {
            try flush()
            try connection.putCopyData(bytes)
            return
        }
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.chunkSize { try flush() }
    }

    public mutating func write(_ bytes: [UInt8]) throws(PostgresError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.chunkSize { try flush() }
    }

    public mutating func flush() throws(PostgresError) {
        guard !buffer.isEmpty else { return }
        try connection.putCopyData(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
