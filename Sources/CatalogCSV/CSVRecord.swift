/// One field of an accepted record, as `RecordReader` hands it over: where its bytes are and,
/// for the numeric kinds, the value the rules of its `ColumnKind` read from them.
///
/// - `.text`: the content is `record.base[start..<end]` (without the surrounding quotes; `""`
///   pairs still doubled when `doubledQuotes`); `isNull` for an unquoted empty field or `null`.
/// - `.id`, `.reference`: `value`; never NULL.
/// - `.integer`: `value`, or `isNull`.
/// - `.price`: `value` in cents (`69.5` → 6950), or `isNull`.
/// - `.boolean`: `value` 1 or 0; never NULL.
public struct CSVField: Sendable {
    public var start: Int
    public var end: Int
    /// The field was quoted, so `null` and emptiness are text, not NULL.
    public var quoted: Bool
    /// The content holds `""` pairs that stand for one quote each.
    public var doubledQuotes: Bool
    public var isNull = false
    public var value = 0

    init(start: Int, end: Int, quoted: Bool, doubledQuotes: Bool) {
        self.start = start
        self.end = end
        self.quoted = quoted
        self.doubledQuotes = doubledQuotes
    }
}

/// An accepted record (checked and repaired, see `RecordReader`): its fields in CSV order. Valid
/// only during the `onRecord` call that received it (the bytes live in the reader's buffer).
public struct CSVRecord {
    /// The buffer the fields' spans point into.
    public let base: UnsafePointer<UInt8>
    public let fields: UnsafePointer<CSVField>
    public let fieldCount: Int
    /// Physical line where the record starts (the header is line 1).
    public let line: Int
    /// Some text holds a backslash, tab, line feed or carriage return (COPY text escapes them).
    public let needsEscaping: Bool

    @inlinable
    public subscript(_ column: Int) -> CSVField { fields[column] }

    /// A non-NULL numeric field's value (ids and references are never NULL).
    @inlinable
    public func int(_ column: Int) -> Int { fields[column].value }

    /// A text field's content as a String (tests, messages; the import renders from the bytes).
    public func text(_ column: Int) -> String? {
        let f = fields[column]
        if f.isNull { return nil }
        var bytes: [UInt8] = []
        var i = f.start
        while i < f.end {
            bytes.append(base[i])
            i += f.doubledQuotes && base[i] == 0x22 ? 2 : 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
