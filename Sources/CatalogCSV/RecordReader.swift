#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads one export CSV record by record, validating and repairing each as docs/importer.md
/// describes (dialect and repairs: see `scanRecord`; per-column rules: see `ColumnKind`), and
/// hands every accepted record's fields to the caller in place, as spans of its read buffer and
/// values (`CSVRecord`): nothing is copied or re-encoded on the way.
///
/// The file is opened once, by `init`, which checks the header; `rewind` reads it again from
/// the start (the importer's second pass over a file whose rows are out of order).
///
/// Memory is bounded whatever the file size: a read buffer (4 MiB, doubled only while a single
/// record does not fit, up to `maxRecordBytes`) and the id bitset (`IDSet`). A record longer
/// than `maxRecordBytes` is rejected ("record longer than N bytes", with its first 64 KiB as
/// `raw`) and skipped up to the next line that starts like a record (digits then a comma) or
/// the end of the file.
///
/// Checks run in this order and the first failure is the reason: NUL byte, not valid UTF-8,
/// text after closing quote, wrong number of fields, each field left to right, duplicate id.
///
/// Not thread-safe: one reader is used by one thread at a time.
public final class RecordReader {
    public let file: CatalogFile
    /// File size, for progress/ETA.
    public let totalBytes: Int
    public private(set) var stats = FileStats()

    public static let defaultBufferSize = 4 << 20
    public static let defaultMaxRecordBytes = 16 << 20

    private let source: ByteSource
    private let maxRecordBytes: Int
    private let kinds: [ColumnKind]
    private let names: [String]
    private var ids = IDSet()
    /// Line number of the byte at `source.start`.
    private var line = 2
    private var finished = false
    /// Nothing was read since the file was opened or rewound.
    public private(set) var isAtFirstRecord = true
    /// After an oversized record: skipping to the next line that starts like a record.
    private var skipping = false
    private var skippingAtLineStart = false

    private let fields: UnsafeMutablePointer<CSVField>

    /// Opens `path`, reads and checks the header (a UTF-8 BOM may precede it; `\n` or `\r\n`).
    /// - Parameters:
    ///   - bufferSize: initial read buffer; tests make it tiny to exercise refills.
    ///   - maxRecordBytes: longest record accepted (see the type's documentation).
    public init(
        file: CatalogFile, path: String,
        bufferSize: Int = RecordReader.defaultBufferSize,
        maxRecordBytes: Int = RecordReader.defaultMaxRecordBytes
    ) throws(CSVFileError) {
        self.file = file
        let maxRecordBytes = max(maxRecordBytes, 64)
        let source = try ByteSource(path: path, bufferSize: min(bufferSize, maxRecordBytes))
        self.source = source
        self.totalBytes = source.size
        self.maxRecordBytes = maxRecordBytes
        let columns = file.columns
        self.kinds = columns.map(\.kind)
        self.names = columns.map(\.name)
        try Self.readHeader(file: file, source: source, maxBytes: self.maxRecordBytes)
        self.stats.bytesRead = source.bytesRead

        fields = .allocate(capacity: columns.count)
        fields.initialize(repeating: CSVField(start: 0, end: 0, quoted: false, doubledQuotes: false), count: columns.count)
    }

    deinit {
        fields.deallocate()
    }

    /// Starts over at the first record, as if the file had just been opened: counters, ids
    /// and rejects begin again (the same rejects come again, in the same order). Nothing to do
    /// when nothing was read yet.
    public func rewind() throws(CSVFileError) {
        if isAtFirstRecord { return }
        try source.rewind()
        try Self.readHeader(file: file, source: source, maxBytes: maxRecordBytes)
        ids = IDSet()
        line = 2
        finished = false
        skipping = false
        skippingAtLineStart = false
        stats = FileStats(bytesRead: source.bytesRead)
        isAtFirstRecord = true
    }

    private static func readHeader(file: CatalogFile, source: ByteSource, maxBytes: Int) throws(CSVFileError) {
        var newlineAt: Int?
        while true {
            newlineAt = findByte(0x0A, in: source.buffer, from: source.start, to: source.end)
            if newlineAt != nil || source.atEOF || source.isFull(maxCapacity: maxBytes) { break }
            _ = try source.refill(maxCapacity: maxBytes)
        }
        let base = source.buffer
        var start = 0
        if source.end >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF { start = 3 }
        var lineEnd = newlineAt ?? source.end
        let next = newlineAt.map { $0 + 1 } ?? source.end
        if lineEnd > start && base[lineEnd - 1] == 0x0D { lineEnd -= 1 }

        if lineEnd == start {
            // No header text: empty if nothing but line breaks follow.
            source.start = start
            while true {
                let b = source.buffer
                while source.start < source.end && (b[source.start] == 0x0A || b[source.start] == 0x0D) {
                    source.start += 1
                }
                if source.start < source.end { break }
                if try !source.refill(maxCapacity: maxBytes) && source.atEOF { throw .empty(path: source.path) }
            }
            throw .wrongHeader(path: source.path, expected: file.header, found: "")
        }

        let found = UnsafeBufferPointer(start: base + start, count: lineEnd - start)
        let expected = Array(file.header.utf8)
        guard found.elementsEqual(expected) else {
            let shown = String(decoding: found.prefix(200), as: UTF8.self)
            throw .wrongHeader(path: source.path, expected: file.header, found: shown)
        }
        source.start = next
    }

    /// Reads records and calls `onRecord` for each accepted one, `onReject` for each rejected
    /// one, until `onRecord` returns false (the caller has a batch) or the file ends.
    /// Returns false once the file is exhausted (possibly after a final batch).
    public func read(onReject: (Reject) -> Void, onRecord: (CSVRecord) -> Bool) throws(CSVFileError) -> Bool {
        isAtFirstRecord = false
        if finished { return false }
        while true {
            if skipping {
                if try !skipOversizedRecord() { continue }
            }
            if readBuffered(onReject: onReject, onRecord: onRecord) {
                if source.start == source.end && source.atEOF {
                    finished = true
                    return false
                }
                return true
            }
            // The rest of the buffer is an incomplete record (or nothing): read on.
            if source.atEOF {
                finished = true
                return false
            }
            if source.isFull(maxCapacity: maxRecordBytes) {
                rejectOversizedRecord(onReject)
                continue
            }
            _ = try source.refill(maxCapacity: maxRecordBytes)
            stats.bytesRead = source.bytesRead
        }
    }

    /// Checks the complete records in the buffer. Returns true when `onRecord` asked to stop;
    /// false when the buffer holds no further complete record (`source.atEOF` tells whether
    /// that is the end).
    private func readBuffered(onReject: (Reject) -> Void, onRecord: (CSVRecord) -> Bool) -> Bool {
        let base = UnsafePointer(source.buffer)
        let dataEnd = source.end
        let atEOF = source.atEOF
        let kinds = self.kinds
        let columnCount = kinds.count
        let fields = self.fields
        let ids = self.ids
        var pos = source.start
        var line = self.line
        var stats = self.stats
        var record = ScannedRecord()

        defer {
            source.start = pos
            self.line = line
            self.stats = stats
        }

        while pos < dataEnd {
            let recordStart = pos
            switch scanRecord(base, from: pos, to: dataEnd, atEOF: atEOF,
                              fields: fields, fieldCapacity: columnCount, into: &record) {
            case .needMore:
                return false
            case .blank:
                pos = record.next
                line += record.lineBreaks
                continue
            case .record:
                break
            }
            let recordLine = line
            pos = record.next
            line += record.lineBreaks
            stats.rowsRead += 1
            let recordLength = record.end - recordStart

            var problem: FieldProblem?
            var problemColumn = 0
            var reason: String?
            var idValue = -1

            let traits = byteTraits(base + recordStart, count: recordLength)
            if traits.control && findByte(0, in: base, from: recordStart, to: record.end) != nil {
                reason = "NUL byte"
            } else if traits.nonASCII && !isValidUTF8(base + recordStart, count: recordLength) {
                reason = "not valid UTF-8"
            } else if record.textAfterQuote >= 0 {
                reason = "text after closing quote in field \(record.textAfterQuote + 1)"
            } else if record.fieldCount != columnCount {
                reason = "wrong number of fields (\(record.fieldCount), expected \(columnCount))"
            } else {
                for column in 0..<columnCount {
                    switch kinds[column] {
                    case .text:
                        fields[column].isNull = isNull(base, fields[column])
                    case .id:
                        problem = readInteger(base, &fields[column], minimum: 1, allowNull: false, signedIsNegative: false)
                        idValue = fields[column].value
                    case .reference:
                        problem = readInteger(base, &fields[column], minimum: 0, allowNull: false, signedIsNegative: false)
                    case .integer:
                        problem = readInteger(base, &fields[column], minimum: 0, allowNull: true, signedIsNegative: true)
                    case .price:
                        problem = readPrice(base, &fields[column])
                    case .boolean:
                        problem = readBoolean(base, &fields[column])
                    }
                    if problem != nil {
                        problemColumn = column
                        break
                    }
                }
                if problem == nil {
                    if idValue >= 0 && !ids.insert(idValue) {
                        reason = "duplicate id \(idValue)"
                    } else {
                        stats.rowsAccepted += 1
                        if record.repaired { stats.repaired += 1 }
                        let more = onRecord(CSVRecord(base: base, fields: fields, fieldCount: columnCount, line: recordLine,
                                                      needsEscaping: traits.needsEscaping))
                        if !more { return true }
                        continue
                    }
                }
            }
            if let problem { reason = problem.reason(column: names[problemColumn]) }
            stats.rejected += 1
            onReject(Reject(file: file, line: recordLine, reason: reason ?? "rejected",
                            raw: Array(UnsafeBufferPointer(start: base + recordStart, count: recordLength))))
        }
        return false
    }

    /// The buffer is full of one record that is still incomplete: reject it and skip ahead.
    private func rejectOversizedRecord(_ onReject: (Reject) -> Void) {
        let shown = min(source.end - source.start, 64 << 10)
        let raw = Array(UnsafeBufferPointer(start: source.buffer + source.start, count: shown))
        stats.rowsRead += 1
        stats.rejected += 1
        onReject(Reject(file: file, line: line, reason: "record longer than \(maxRecordBytes) bytes", raw: raw))
        skipping = true
        skippingAtLineStart = false
    }

    /// Discards bytes up to the next line that starts like a record, or the end of the file.
    /// Returns true when done skipping; false after a refill (call again).
    private func skipOversizedRecord() throws(CSVFileError) -> Bool {
        let base = UnsafePointer(source.buffer)
        while true {
            if skippingAtLineStart {
                switch classifyLine(base, at: source.start, dataEnd: source.end, atEOF: source.atEOF) {
                case .recordStart, .fileEnd:
                    skipping = false
                    return true
                case .other:
                    skippingAtLineStart = false
                case .needMore:
                    if source.isFull(maxCapacity: maxRecordBytes) {
                        skippingAtLineStart = false  // a monstrous run of digits: not a record start
                        continue
                    }
                    _ = try source.refill(maxCapacity: maxRecordBytes)
                    stats.bytesRead = source.bytesRead
                    return false
                }
            }
            if let n = findByte(0x0A, in: base, from: source.start, to: source.end) {
                line += 1
                source.start = n + 1
                skippingAtLineStart = true
            } else {
                source.start = source.end
                if source.atEOF {
                    skipping = false
                    return true
                }
                _ = try source.refill(maxCapacity: maxRecordBytes)
                stats.bytesRead = source.bytesRead
                return false
            }
        }
    }
}
