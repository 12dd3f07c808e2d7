/// What a record's raw bytes contain, found eight bytes at a time so that the common record
/// (plain ASCII, no control characters, no backslash) costs one pass and no per-byte branches.
struct ByteTraits {
    /// Some byte ≥ 0x80: the record must be validated as UTF-8.
    var nonASCII: Bool
    /// Some byte < 0x20 (NUL, tab, CR, LF, …) or a backslash: text needs the escaping path.
    var needsEscaping: Bool
    /// Some byte < 0x20: worth looking for NUL.
    var control: Bool
}

@inline(__always)
func byteTraits(_ p: UnsafePointer<UInt8>, count n: Int) -> ByteTraits {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    let below20 = ones &* 0x20
    let backslashes = ones &* 0x5C
    var any: UInt64 = 0
    var control: UInt64 = 0
    var backslash: UInt64 = 0
    let raw = UnsafeRawPointer(p)
    var i = 0
    while i &+ 8 <= n {
        let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        any |= w
        // Nonzero iff some byte is < 0x20 (exact as to existence for thresholds ≤ 0x80).
        control |= (w &- below20) & ~w & highs
        let x = w ^ backslashes
        backslash |= (x &- ones) & ~x & highs
        i &+= 8
    }
    var tailAny: UInt8 = 0
    var tailControl = false
    var tailBackslash = false
    while i < n {
        let b = p[i]
        tailAny |= b
        tailControl = tailControl || b < 0x20
        tailBackslash = tailBackslash || b == 0x5C
        i &+= 1
    }
    let hasControl = control != 0 || tailControl
    return ByteTraits(
        nonASCII: any & highs != 0 || tailAny & 0x80 != 0,
        needsEscaping: hasControl || backslash != 0 || tailBackslash,
        control: hasControl)
}

/// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
func isValidUTF8(_ p: UnsafePointer<UInt8>, count n: Int) -> Bool {
    var i = 0
    while i < n {
        let b0 = p[i]
        if b0 < 0x80 {
            i += 1
            continue
        }
        @inline(__always) func continuation(_ k: Int) -> UInt8? {
            guard i + k < n else { return nil }
            let b = p[i + k]
            return b & 0xC0 == 0x80 ? b : nil
        }
        switch b0 {
        case 0xC2...0xDF:
            guard continuation(1) != nil else { return false }
            i += 2
        case 0xE0...0xEF:
            guard let b1 = continuation(1), continuation(2) != nil else { return false }
            if b0 == 0xE0 && b1 < 0xA0 { return false }
            if b0 == 0xED && b1 >= 0xA0 { return false }
            i += 3
        case 0xF0...0xF4:
            guard let b1 = continuation(1), continuation(2) != nil, continuation(3) != nil else { return false }
            if b0 == 0xF0 && b1 < 0x90 { return false }
            if b0 == 0xF4 && b1 >= 0x90 { return false }
            i += 4
        default:
            return false
        }
    }
    return true
}
