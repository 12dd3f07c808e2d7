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
func isNull(_ base: UnsafePointer<UInt8>, _ span: CSVField) -> Bool {
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
func trimmed(_ base: UnsafePointer<UInt8>, _ span: CSVField) -> CSVField {
    var s = span.start
    var e = span.end
    while s < e && (base[s] == 0x20 || base[s] == 0x09) { s += 1 }
    while e > s && (base[e - 1] == 0x20 || base[e - 1] == 0x09) { e -= 1 }
    return CSVField(start: s, end: e, quoted: span.quoted, doubledQuotes: span.doubledQuotes)
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

/// Checks an id/reference/quantity and stores its value. `minimum` is 1 for ids, 0 otherwise;
/// `allowNull` accepts NULL (quantity) instead of refusing it.
@inline(__always)
func readInteger(
    _ base: UnsafePointer<UInt8>, _ field: inout CSVField, minimum: Int, allowNull: Bool, signedIsNegative: Bool
) -> FieldProblem? {
    let span = trimmed(base, field)
    if isNull(base, span) {
        guard allowNull else { return .missing }
        field.isNull = true
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
    field.value = v
    return nil
}

/// Checks a price (see `ColumnKind.price`) and stores it in cents.
@inline(__always)
func readPrice(_ base: UnsafePointer<UInt8>, _ field: inout CSVField) -> FieldProblem? {
    let span = trimmed(base, field)
    if isNull(base, span) {
        field.isNull = true
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
    var cents = 0
    for i in intStart..<intEnd { cents = cents &* 10 &+ Int(base[i] &- 0x30) }
    for i in fracStart..<fracEnd { cents = cents &* 10 &+ Int(base[i] &- 0x30) }
    // Scaled to two decimals whatever was written: 140 → 14000, 69.5 → 6950.
    switch fracEnd - fracStart {
    case 0: cents &*= 100
    case 1: cents &*= 10
    default: break
    }
    field.value = cents
    return nil
}

/// Checks a boolean (see `ColumnKind.boolean`) and stores 1 or 0.
@inline(__always)
func readBoolean(_ base: UnsafePointer<UInt8>, _ field: inout CSVField) -> FieldProblem? {
    let span = trimmed(base, field)
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
    field.value = truth ? 1 : 0
    return nil
}
