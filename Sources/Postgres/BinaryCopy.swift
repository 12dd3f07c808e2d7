/// Reads PostgreSQL's binary COPY format (the COPY page of PostgreSQL's manual, "Binary
/// Format"): a header, then per row a 16-bit field count and per field a 32-bit length (-1:
/// NULL) and the value in the type's binary form (`text` and `bytea`: the bytes as they are;
/// `int4`: 4 bytes, network order), then a 16-bit -1. (The importer writes the format with
/// CatalogImport's `BinaryCopy`, which takes ``signature`` from here.)
public enum BinaryCopyFormat {
    /// `PGCOPY\n\377\r\n\0`, the first 11 bytes of the format (the importer writes it too).
    public static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]

    /// An `int4` field's value.
    public static func int4(_ field: UnsafeRawBufferPointer) -> Int32? {
        guard field.count == 4 else { return nil }
        return Int32(bitPattern: UInt32(field[0]) << 24 | UInt32(field[1]) << 16 | UInt32(field[2]) << 8 | UInt32(field[3]))
    }

    public struct FormatError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses `COPY ... TO STDOUT (FORMAT binary)` as it arrives, in chunks split anywhere,
    /// and calls `row` with each row's fields (nil: NULL), valid only during the call.
    public struct Reader {
        private var pending: [UInt8] = []
        private var sawHeader = false
        public private(set) var finished = false
        public private(set) var rows = 0

        public init() {}

        public mutating func feed(_ chunk: UnsafeRawBufferPointer,
                                  row: ([UnsafeRawBufferPointer?]) throws -> Void) throws {
            if pending.isEmpty {
                let used = try parse(chunk, row: row)
                pending.append(contentsOf: chunk[used...])
            } else {
                pending.append(contentsOf: chunk)
                let all = pending
                let used = try all.withUnsafeBytes { try parse($0, row: row) }
                pending.removeFirst(used)
            }
        }

        /// Parses whole rows from the start of `bytes`; returns how many bytes they took.
        private mutating func parse(_ bytes: UnsafeRawBufferPointer, row: ([UnsafeRawBufferPointer?]) throws -> Void) throws -> Int {
            var at = 0
            if !sawHeader {
                guard bytes.count >= 19 else { return 0 }
                guard bytes.prefix(11).elementsEqual(signature) else {
                    throw FormatError(description: "binary COPY: no PGCOPY signature")
                }
                let extensionLength = Int(BinaryCopyFormat.int4(UnsafeRawBufferPointer(rebasing: bytes[15..<19]))!)
                guard bytes.count >= 19 + extensionLength else { return 0 }
                at = 19 + extensionLength
                sawHeader = true
            }
            var fields: [UnsafeRawBufferPointer?] = []
            while !finished, bytes.count - at >= 2 {
                let count = Int(Int16(bitPattern: UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])))
                if count == -1 {
                    finished = true
                    return at + 2
                }
                var p = at + 2
                fields.removeAll(keepingCapacity: true)
                var complete = true
                for _ in 0..<count {
                    guard bytes.count - p >= 4 else { complete = false; break }
                    let length = Int(BinaryCopyFormat.int4(UnsafeRawBufferPointer(rebasing: bytes[p..<(p + 4)]))!)
                    p += 4
                    if length < 0 { fields.append(nil); continue }
                    guard bytes.count - p >= length else { complete = false; break }
                    fields.append(UnsafeRawBufferPointer(rebasing: bytes[p..<(p + length)]))
                    p += length
                }
                guard complete else { break }
                try row(fields)
                rows += 1
                at = p
            }
            return at
        }
    }
}
