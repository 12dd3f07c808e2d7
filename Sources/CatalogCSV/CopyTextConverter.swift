#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streams one export CSV into PostgreSQL COPY text format, validating and repairing each record
/// as docs/importer.md describes (dialect and repairs: see `scanRecord`; per-column rules: see `ColumnKind`).
///
/// Memory is bounded whatever the file size: a read buffer (4 MiB, doubled only while a single
/// record does not fit, up to `maxRecordBytes`), an output scratch of about twice that, and the
/// id bitset (`IDSet`). A record longer than `maxRecordBytes` is rejected ("record longer than
/// N bytes", with its first 64 KiB as `raw`) and skipped up to the next line that starts like a
/// record (digits then a comma) or the end of the file.
///
/// Checks run in this order and the first failure is the reason: NUL byte, not valid UTF-8,
/// text after closing quote, wrong number of fields, each field left to right, duplicate id.
///
/// Not thread-safe: one converter is used by one task at a time.
public final class CopyTextConverter {
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
    private let ids = IDSet()
    /// Line number of the byte at `source.start`.
    private var line = 2
    private var finished = false
    /// After an oversized record: skipping to the next line that starts like a record.
    private var skipping = false
    private var skippingAtLineStart = false

    private let spans: UnsafeMutablePointer<FieldSpan>
    private var scratch: UnsafeMutablePointer<UInt8>
    private var scratchCapacity: Int

    /// Opens `path`, reads and checks the header (a UTF-8 BOM may precede it; `\n` or `\r\n`).
    /// - Parameters:
    ///   - bufferSize: initial read buffer; tests make it tiny to exercise refills.
    ///   - maxRecordBytes: longest record accepted (see the type's documentation).
    public init(
        file: CatalogFile, path: String,
        bufferSize: Int = CopyTextConverter.defaultBufferSize,
        maxRecordBytes: Int = CopyTextConverter.defaultMaxRecordBytes
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

        spans = .allocate(capacity: columns.count)
        scratchCapacity = 2 << 20
        scratch = .allocate(capacity: scratchCapacity)
    }

    deinit {
        spans.deallocate()
        scratch.deallocate()
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

    /// Appends COPY text lines (tab-separated, `\N` for NULL, backslash/tab/newline/CR escaped,
    /// columns in CSV order) for accepted rows to `out` until at least `minimumBytes` were
    /// appended or the file ends. Calls `onReject` per rejected record.
    /// Returns false once the file is exhausted (possibly after appending a final batch).
    public func fill(_ out: inout [UInt8], minimumBytes: Int, onReject: (Reject) -> Void) throws(CSVFileError) -> Bool {
        if finished { return false }
        let target = max(minimumBytes, 1)
        var appended = 0
        while true {
            if skipping {
                if try !skipOversizedRecord() { continue }
            }
            let reachedTarget = convertBuffered(&out, appended: &appended, target: target, onReject: onReject)
            if reachedTarget {
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

    /// Converts complete records from the buffer. Returns true when `target` bytes were
    /// appended; false when the buffer holds no further complete record (`source.atEOF` tells
    /// whether that is the end).
    private func convertBuffered(
        _ out: inout [UInt8], appended: inout Int, target: Int, onReject: (Reject) -> Void
    ) -> Bool {
        let base = UnsafePointer(source.buffer)
        let dataEnd = source.end
        let atEOF = source.atEOF
        let kinds = self.kinds
        let columnCount = kinds.count
        let spans = self.spans
        let ids = self.ids
        var pos = source.start
        var line = self.line
        var stats = self.stats
        var scratch = self.scratch
        var used = 0
        var record = ScannedRecord()
        var reachedTarget = false

        defer {
            if used > 0 { out.append(contentsOf: UnsafeBufferPointer(start: scratch, count: used)) }
            source.start = pos
            self.line = line
            self.stats = stats
        }

        while pos < dataEnd {
            let recordStart = pos
            switch scanRecord(base, from: pos, to: dataEnd, atEOF: atEOF,
                              fields: spans, fieldCapacity: columnCount, into: &record) {
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

            // Room for the worst case: every byte escaped, every field `\N`, tabs and newline.
            let bound = 2 * recordLength + 3 * columnCount + 1
            if used + bound > scratchCapacity {
                out.append(contentsOf: UnsafeBufferPointer(start: scratch, count: used))
                used = 0
                if bound > scratchCapacity {
                    scratch.deallocate()
                    scratchCapacity = max(bound, scratchCapacity * 2)
                    scratch = .allocate(capacity: scratchCapacity)
                    self.scratch = scratch
                }
            }

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
                var w = scratch + used
                for column in 0..<columnCount {
                    if column > 0 {
                        w[0] = 0x09
                        w += 1
                    }
                    let span = spans[column]
                    switch kinds[column] {
                    case .text:
                        writeText(base, span, escaping: traits.needsEscaping, to: &w)
                    case .id:
                        problem = writeInteger(base, span, minimum: 1, allowNull: false, signedIsNegative: false,
                                               value: &idValue, to: &w)
                    case .reference:
                        var ignored = 0
                        problem = writeInteger(base, span, minimum: 0, allowNull: false, signedIsNegative: false,
                                               value: &ignored, to: &w)
                    case .integer:
                        var ignored = 0
                        problem = writeInteger(base, span, minimum: 0, allowNull: true, signedIsNegative: true,
                                               value: &ignored, to: &w)
                    case .price:
                        problem = writePrice(base, span, to: &w)
                    case .boolean:
                        problem = writeBoolean(base, span, to: &w)
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
                        w[0] = 0x0A
                        w += 1
                        let written = scratch.distance(to: w)
                        appended += written - used
                        used = written
                        stats.rowsAccepted += 1
                        if record.repaired { stats.repaired += 1 }
                        if appended >= target {
                            reachedTarget = true
                            break
                        }
                        continue
                    }
                }
            }
            if let problem { reason = problem.reason(column: names[problemColumn]) }
            stats.rejected += 1
            onReject(Reject(file: file, line: recordLine, reason: reason ?? "rejected",
                            raw: Array(UnsafeBufferPointer(start: base + recordStart, count: recordLength))))
        }
        return reachedTarget
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
