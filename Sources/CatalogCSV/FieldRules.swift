#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a field was refused; `reason(column:)` is the stable text that goes into a `Reject`.
enum FieldProblem {
    case missing, notInteger, outOfRange, notNumber, negative, tooManyDecimals, tooLarge, notBoolean

    func reason(column: String) -> String {
        switch self {
        case .missing: "\(column) is missing"
        case .notInteger: "\(column) is not an integer"
        case .outOfRange: "\(column) is out of range"
        case .notNumber: "\(column) is not a number"
        case .negative: "\(column) is negative"
        case .tooManyDecimals: "\(column) has more than 2 decimals"
        case .tooLarge: "\(column) is too large"
        case .notBoolean: "\(column) is not a boolean"
        }
    }
}

private let int32Max = Int(Int32.max)

/// An unquoted empty field or unquoted `null`.
@inline(__always)
func isNull(_ base: UnsafePointer<UInt8>, _ span: FieldSpan) -> Bool {
    if span.quoted { return false }
    let n = span.end - span.start
    if n == 0 { return true }
    guard n == 4 else { return false }
    let p = base + span.start
    return p[0] == 0x6E && p[1] == 0x75 && p[2] == 0x6C && p[3] == 0x6C
}

/// `span` without the spaces and tabs around it: numbers and booleans tolerate them, as
/// PostgreSQL's own input functions do (the real skus.csv has `"11", 11`).
@inline(__always)
func trimmed(_ base: UnsafePointer<UInt8>, _ span: FieldSpan) -> FieldSpan {
    var s = span.start
    var e = span.end
    while s < e && (base[s] == 0x20 || base[s] == 0x09) { s += 1 }
    while e > s && (base[e - 1] == 0x20 || base[e - 1] == 0x09) { e -= 1 }
    return FieldSpan(start: s, end: e, quoted: span.quoted, doubledQuotes: span.doubledQuotes)
}

/// The value of `start..<end` if it is only ASCII digits (at least one); values above
/// Int32.max come back as Int32.max + 1. Nil if not a plain digit string.
@inline(__always)
func digitValue(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
    guard start < end else { return nil }
    var value = 0
    var i = start
    while i < end {
        let d = base[i] &- 0x30
        guard d < 10 else { return nil }
        value = value &* 10 &+ Int(d)
        if value > int32Max { value = int32Max + 1 }
        i &+= 1
    }
    return value
}

/// Copies `start..<end` minus leading zeros (keeping one digit).
@inline(__always)
func writeDigits(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, to w: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
    var s = start
    while s < end - 1 && base[s] == 0x30 { s += 1 }
    let n = end - s
    w.update(from: base + s, count: n)
    return w + n
}

/// Checks and writes an id/reference/quantity. `minimum` is 1 for ids, 0 otherwise.
/// `allowNull` writes `\N` for NULL (quantity) instead of refusing it.
@inline(__always)
func writeInteger(
    _ base: UnsafePointer<UInt8>, _ span: FieldSpan, minimum: Int, allowNull: Bool, signedIsNegative: Bool,
    value: inout Int, to w: inout UnsafeMutablePointer<UInt8>
) -> FieldProblem? {
    let span = trimmed(base, span)
    if isNull(base, span) {
        guard allowNull else { return .missing }
        w[0] = 0x5C; w[1] = 0x4E
        w += 2
        return nil
    }
    guard let v = digitValue(base, span.start, span.end) else {
        if signedIsNegative, span.end - span.start > 1, base[span.start] == 0x2D,
           digitValue(base, span.start + 1, span.end) != nil {
            return .negative
        }
        return .notInteger
    }
    guard v >= minimum && v <= int32Max else { return .outOfRange }
    value = v
    w = writeDigits(base, span.start, span.end, to: w)
    return nil
}

/// Checks and writes a price as normalized exact decimal text (see `ColumnKind.price`).
@inline(__always)
func writePrice(_ base: UnsafePointer<UInt8>, _ span: FieldSpan, to w: inout UnsafeMutablePointer<UInt8>) -> FieldProblem? {
    let span = trimmed(base, span)
    if isNull(base, span) {
        w[0] = 0x5C; w[1] = 0x4E
        w += 2
        return nil
    }
    var s = span.start
    let e = span.end
    var negative = false
    if s < e && base[s] == 0x2D {
        negative = true
        s += 1
    }
    var intEnd = s
    while intEnd < e && base[intEnd] &- 0x30 < 10 { intEnd += 1 }
    var fracStart = intEnd
    var fracEnd = intEnd
    if intEnd < e && base[intEnd] == 0x2E {
        fracStart = intEnd + 1
        fracEnd = fracStart
        while fracEnd < e && base[fracEnd] &- 0x30 < 10 { fracEnd += 1 }
    }
    guard fracEnd == e, intEnd > s || fracEnd > fracStart else { return .notNumber }
    if negative { return .negative }
    var intStart = s
    while intStart < intEnd && base[intStart] == 0x30 { intStart += 1 }
    while fracEnd > fracStart && base[fracEnd - 1] == 0x30 { fracEnd -= 1 }
    if intEnd - intStart > 10 { return .tooLarge }
    if fracEnd - fracStart > 2 { return .tooManyDecimals }
    if intStart == intEnd {
        w[0] = 0x30
        w += 1
    } else {
        w.update(from: base + intStart, count: intEnd - intStart)
        w += intEnd - intStart
    }
    if fracEnd > fracStart {
        w[0] = 0x2E
        w += 1
        w.update(from: base + fracStart, count: fracEnd - fracStart)
        w += fracEnd - fracStart
    }
    return nil
}

/// Checks and writes `t`/`f` (see `ColumnKind.boolean`).
@inline(__always)
func writeBoolean(_ base: UnsafePointer<UInt8>, _ span: FieldSpan, to w: inout UnsafeMutablePointer<UInt8>) -> FieldProblem? {
    let span = trimmed(base, span)
    let p = base + span.start
    let n = span.end - span.start
    let truth: Bool
    if n == 0 || isNull(base, span) {
        truth = false
    } else if n == 1 && (p[0] == 0x31 || p[0] == 0x30) {
        truth = p[0] == 0x31
    } else if n == 4 && p[0] | 0x20 == 0x74 && p[1] | 0x20 == 0x72 && p[2] | 0x20 == 0x75 && p[3] | 0x20 == 0x65 {
        truth = true
    } else if n == 5 && p[0] | 0x20 == 0x66 && p[1] | 0x20 == 0x61 && p[2] | 0x20 == 0x6C
                && p[3] | 0x20 == 0x73 && p[4] | 0x20 == 0x65 {
        truth = false
    } else {
        return .notBoolean
    }
    w[0] = truth ? 0x74 : 0x66
    w += 1
    return nil
}

/// Writes a text field in COPY text format: NULL as `\N`; `""` pairs as one quote when
/// `doubledQuotes`; backslash, tab, line feed and carriage return escaped when `escaping`
/// (the caller knows from `byteTraits` whether the record holds any of them).
@inline(__always)
func writeText(
    _ base: UnsafePointer<UInt8>, _ span: FieldSpan, escaping: Bool, to w: inout UnsafeMutablePointer<UInt8>
) {
    if isNull(base, span) {
        w[0] = 0x5C; w[1] = 0x4E
        w += 2
        return
    }
    let n = span.end - span.start
    if !escaping && !span.doubledQuotes {
        w.update(from: base + span.start, count: n)
        w += n
        return
    }
    var o = w
    var i = span.start
    while i < span.end {
        let b = base[i]
        i += 1
        switch b {
        case 0x22 where span.doubledQuotes:
            o[0] = b
            o += 1
            i += 1  // the second quote of the pair
        case 0x5C:
            o[0] = 0x5C; o[1] = 0x5C
            o += 2
        case 0x09:
            o[0] = 0x5C; o[1] = 0x74
            o += 2
        case 0x0A:
            o[0] = 0x5C; o[1] = 0x6E
            o += 2
        case 0x0D:
            o[0] = 0x5C; o[1] = 0x72
            o += 2
        default:
            o[0] = b
            o += 1
        }
    }
    w = o
}
