#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a record lies in the buffer and what the scan noticed about it.
struct ScannedRecord {
    /// End of the record's bytes, excluding its final line break.
    var end = 0
    /// Where the next record starts (after the line break).
    var next = 0
    /// Line breaks consumed, including the one that ends the record.
    var lineBreaks = 0
    var fieldCount = 0
    /// One of the two repairs (docs/importer.md, "Damage") was applied.
    var repaired = false
    /// Index of the first field with text after its closing quote, or -1.
    var textAfterQuote = -1
}

enum ScanOutcome {
    case record
    /// An empty line (or just `\r`): skipped, not a record. `next`/`lineBreaks` are set.
    case blank
    /// The record (or the look-ahead a repair needs) runs past the bytes available.
    case needMore
}

private let quote: UInt8 = 0x22
private let comma: UInt8 = 0x2C
private let newline: UInt8 = 0x0A
private let carriageReturn: UInt8 = 0x0D
private let space: UInt8 = 0x20

@inline(__always)
func findByte(_ byte: UInt8, in base: UnsafePointer<UInt8>, from: Int, to: Int) -> Int? {
    guard from < to, let hit = memchr(base + from, Int32(byte), to - from) else { return nil }
    return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
}

/// Finds the boundaries of one CSV record starting at `start`, following the export's dialect (docs/importer.md) and
/// its two repairs. Validation of the content is the caller's job; this only decides where
/// fields and records begin and end.
///
/// - A field starting with `"` is quoted: it ends at the next `"` that is not part of a `""`
///   pair. Commas, `\r` and line breaks inside it are data. Spaces between a comma and the
///   opening quote, or between the closing quote and the next comma or line end, are ignored
///   (the real export has `"11", 11`); in an unquoted field they are data.
/// - **Repair 1.** If a quoted field is still open at the end of a line, and the next line starts
///   like a record (one or more digits, then a comma) or the file ends there (only blank lines
///   follow), the field is closed at the end of that line and the record ends with it.
///   Otherwise the line break is data and the field goes on.
/// - **Repair 2.** A `"` that is the last byte of an unquoted field (right before a comma or
///   the end of the line) is a stray closing quote and is dropped. A `"` elsewhere in an
///   unquoted field is kept as data.
/// - **Text after a closing quote** (`"abc"def,`; spaces do not count) is not repaired: it has no single reading
///   (a missing `""`? a missing comma?), so the record is scanned on leniently to the next comma
///   or line end to find where it ends, and `textAfterQuote` names the field; the caller rejects
///   the record ("text after closing quote in field N").
///
/// Stores at most `fieldCapacity` spans into `fields`; `fieldCount` counts them all.
@inline(__always)
func scanRecord(
    _ base: UnsafePointer<UInt8>, from start: Int, to dataEnd: Int, atEOF: Bool,
    fields: UnsafeMutablePointer<CSVField>, fieldCapacity: Int,
    into record: inout ScannedRecord
) -> ScanOutcome {
    // The current physical line: `lineEnd` is its '\n' (or dataEnd at the end of the file),
    // `contentEnd` excludes a '\r' before it.
    var lineEnd: Int
    var hasNewline: Bool
    if let n = findByte(newline, in: base, from: start, to: dataEnd) {
        lineEnd = n
        hasNewline = true
    } else if atEOF {
        lineEnd = dataEnd
        hasNewline = false
    } else {
        return .needMore
    }
    var contentEnd = lineEnd > start && base[lineEnd - 1] == carriageReturn ? lineEnd - 1 : lineEnd
    var lineBreaks = 0

    if contentEnd == start {
        record.next = hasNewline ? lineEnd + 1 : lineEnd
        record.lineBreaks = hasNewline ? 1 : 0
        return .blank
    }

    var fieldCount = 0
    var repaired = false
    var textAfterQuote = -1
    var p = start

    @inline(__always) func store(_ span: CSVField) {
        if fieldCount < fieldCapacity { fields[fieldCount] = span }
        fieldCount += 1
    }

    fieldLoop: while true {
        if p < contentEnd && base[p] == space {
            var s = p + 1
            while s < contentEnd && base[s] == space { s += 1 }
            if s < contentEnd && base[s] == quote { p = s }
        }
        if p < contentEnd && base[p] == quote {
            let contentStart = p + 1
            var searchFrom = contentStart
            var doubled = false
            while true {
                if let closing = findByte(quote, in: base, from: searchFrom, to: lineEnd) {
                    let after = closing + 1
                    if after < lineEnd && base[after] == quote {
                        doubled = true
                        searchFrom = after + 1
                        continue
                    }
                    store(CSVField(start: contentStart, end: closing, quoted: true, doubledQuotes: doubled))
                    var delimiter = after
                    while delimiter < contentEnd && base[delimiter] == space { delimiter += 1 }
                    if delimiter >= contentEnd { break fieldLoop }
                    if base[delimiter] == comma {
                        p = delimiter + 1
                        continue fieldLoop
                    }
                    if textAfterQuote < 0 { textAfterQuote = fieldCount - 1 }
                    var x = after
                    while x < contentEnd && base[x] != comma { x += 1 }
                    if x >= contentEnd { break fieldLoop }
                    p = x + 1
                    continue fieldLoop
                }
                // Still open at the end of this line.
                let closeHere: Bool
                if !hasNewline {
                    closeHere = true
                } else {
                    switch classifyLine(base, at: lineEnd + 1, dataEnd: dataEnd, atEOF: atEOF) {
                    case .needMore: return .needMore
                    case .recordStart, .fileEnd: closeHere = true
                    case .other: closeHere = false
                    }
                }
                if closeHere {
                    store(CSVField(start: contentStart, end: contentEnd, quoted: true, doubledQuotes: doubled))
                    repaired = true
                    break fieldLoop
                }
                // The line break is data; move on to the next line.
                lineBreaks += 1
                searchFrom = lineEnd + 1
                let nextLineStart = searchFrom
                if let n = findByte(newline, in: base, from: nextLineStart, to: dataEnd) {
                    lineEnd = n
                } else if atEOF {
                    lineEnd = dataEnd
                    hasNewline = false
                } else {
                    return .needMore
                }
                contentEnd = lineEnd > nextLineStart && base[lineEnd - 1] == carriageReturn ? lineEnd - 1 : lineEnd
            }
        } else {
            var c = p
            while c < contentEnd && base[c] != comma { c += 1 }
            var fieldEnd = c
            if fieldEnd > p && base[fieldEnd - 1] == quote {
                fieldEnd -= 1
                repaired = true
            }
            store(CSVField(start: p, end: fieldEnd, quoted: false, doubledQuotes: false))
            if c >= contentEnd { break fieldLoop }
            p = c + 1
        }
    }

    record.end = contentEnd
    record.next = hasNewline ? lineEnd + 1 : lineEnd
    record.lineBreaks = lineBreaks + (hasNewline ? 1 : 0)
    record.fieldCount = fieldCount
    record.repaired = repaired
    record.textAfterQuote = textAfterQuote
    return .record
}

enum LineStart {
    /// Digits then a comma: looks like a new record.
    case recordStart
    /// Nothing but line breaks up to the end of the file.
    case fileEnd
    case other
    case needMore
}

/// What the line starting at `index` looks like, for repair 1.
@inline(__always)
func classifyLine(_ base: UnsafePointer<UInt8>, at index: Int, dataEnd: Int, atEOF: Bool) -> LineStart {
    var j = index
    while j < dataEnd && base[j] &- 0x30 < 10 { j += 1 }
    if j < dataEnd {
        if j > index { return base[j] == comma ? .recordStart : .other }
    } else {
        if !atEOF { return .needMore }
        return j == index ? .fileEnd : .other
    }
    // No digits: only a run of blank lines reaching the end of the file counts as its end.
    while j < dataEnd && (base[j] == newline || base[j] == carriageReturn) { j += 1 }
    if j < dataEnd { return .other }
    return atEOF ? .fileEnd : .needMore
}
