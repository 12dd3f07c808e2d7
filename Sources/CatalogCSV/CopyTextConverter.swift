/// Writes the accepted records of one export CSV as PostgreSQL COPY text (tab-separated, `\N`
/// for NULL, backslash/tab/newline/CR escaped, columns in CSV order, numbers and prices
/// normalized — see `ColumnKind`): the clean copy of a file, exactly the rows and values the
/// importer takes from it. The importer itself renders from `RecordReader`'s records directly;
/// this is what `products-import --clean-copy` writes for the import benchmark's baseline (a
/// bare COPY of the same rows) and what the reader's tests compare.
public final class CopyTextConverter {
    public let reader: RecordReader
    public var file: CatalogFile { reader.file }
    public var totalBytes: Int { reader.totalBytes }
    public var stats: FileStats { reader.stats }

    public static let defaultBufferSize = RecordReader.defaultBufferSize
    public static let defaultMaxRecordBytes = RecordReader.defaultMaxRecordBytes

    private let kinds: [ColumnKind]

    /// Opens `path` and checks its header (see `RecordReader.init`).
    public init(
        file: CatalogFile, path: String,
        bufferSize: Int = RecordReader.defaultBufferSize,
        maxRecordBytes: Int = RecordReader.defaultMaxRecordBytes
    ) throws(CSVFileError) {
        reader = try RecordReader(file: file, path: path, bufferSize: bufferSize, maxRecordBytes: maxRecordBytes)
        kinds = file.columns.map(\.kind)
    }

    /// Appends COPY text lines for accepted rows to `out` until at least `minimumBytes` were
    /// appended or the file ends. Calls `onReject` per rejected record.
    /// Returns false once the file is exhausted (possibly after appending a final batch).
    public func fill(_ out: inout [UInt8], minimumBytes: Int, onReject: (Reject) -> Void) throws(CSVFileError) -> Bool {
        let target = out.count + max(minimumBytes, 1)
        let kinds = self.kinds
        return try reader.read(onReject: onReject) { record in
            Self.appendLine(record, kinds, to: &out)
            return out.count < target
        }
    }

    /// One record as a COPY text line.
    public static func appendLine(_ record: CSVRecord, _ kinds: [ColumnKind], to out: inout [UInt8]) {
        for column in 0..<record.fieldCount {
            if column > 0 { out.append(0x09) }
            let field = record[column]
            if field.isNull {
                out.append(contentsOf: [0x5C, 0x4E])  // \N
                continue
            }
            switch kinds[column] {
            case .text:
                appendText(record.base, field, escaping: record.needsEscaping, to: &out)
            case .id, .reference, .integer:
                appendDecimal(field.value, to: &out)
            case .price:
                // Normalized exact text: 14000 → 140, 6950 → 69.5, 1234 → 12.34.
                appendDecimal(field.value / 100, to: &out)
                let cents = field.value % 100
                if cents != 0 {
                    out.append(0x2E)
                    out.append(0x30 + UInt8(cents / 10))
                    if cents % 10 != 0 { out.append(0x30 + UInt8(cents % 10)) }
                }
            case .boolean:
                out.append(field.value != 0 ? 0x74 : 0x66)  // t / f
            }
        }
        out.append(0x0A)
    }

    private static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(0x30 + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    /// A text field: `""` pairs as one quote when `doubledQuotes`; backslash, tab, line feed
    /// and carriage return escaped when `escaping` (the record holds one of them).
    private static func appendText(_ base: UnsafePointer<UInt8>, _ field: CSVField, escaping: Bool, to out: inout [UInt8]) {
        if !escaping && !field.doubledQuotes {
            out.append(contentsOf: UnsafeBufferPointer(start: base + field.start, count: field.end - field.start))
            return
        }
        var i = field.start
        while i < field.end {
            let b = base[i]
            i += 1
            switch b {
            case 0x22 where field.doubledQuotes:
                out.append(b)
                i += 1  // the second quote of the pair
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x09: out.append(contentsOf: [0x5C, 0x74])
            case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: out.append(contentsOf: [0x5C, 0x72])
            default: out.append(b)
            }
        }
    }
}
