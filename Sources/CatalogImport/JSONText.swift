#if canImport(Glibc)
import Glibc
#endif

/// Renders fields of the converter's COPY text output as JSON values, byte for byte, so that
/// PostgreSQL only concatenates the documents.
///
/// Input is one field of a COPY text line (`CopyTextConverter`): `\N` is NULL; text has
/// backslash, tab, line feed and carriage return escaped as `\\`, `\t`, `\n`, `\r`, and every
/// other byte as it is (valid UTF-8, no NUL). Numbers are normalized digits, prices normalized
/// exact decimals (`140`, `69.5`, `0.5`), booleans `t`/`f`.
///
/// The output is what `to_json`/`json_build_object` would give, compactly: strings quoted with
/// `"` and `\` escaped and control characters as `\n`, `\t`, … or `\u00XX`; prices as strings with
/// exactly two decimals (`round(x, 2)::text`); NULL as `null`.
enum JSONText {
    @inline(__always)
    static func isNull(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        end - start == 2 && p[start] == 0x5C && p[start + 1] == 0x4E
    }

    /// A text field as a JSON string (or `null`).
    @inline(__always)
    static func appendString(_ out: ByteBuffer, _ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) {
        if isNull(p, start, end) {
            out.append("null")
            return
        }
        // Worst case: every byte a control character, `\u00XX`.
        out.reserve(2 &+ 6 &* (end &- start))
        var w = out.cursor
        w.pointee = 0x22
        w += 1
        var i = start
        var run = start
        while i < end {
            // Eight bytes at a time while none needs attention (the usual case: URLs, names).
            while i &+ 8 <= end {
                let word = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                if needsAttention(word) { break }
                i &+= 8
            }
            guard i < end else { break }
            let b = p[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C {
                i &+= 1
                continue
            }
            if i > run {
                w.update(from: p + run, count: i &- run)
                w += i &- run
            }
            if b == 0x5C && i &+ 1 < end {
                // A COPY escape. `\\`, `\t`, `\n`, `\r` are spelled the same in JSON.
                let e = p[i &+ 1]
                switch e {
                case 0x5C, 0x74, 0x6E, 0x72, 0x62, 0x66:  // \ t n r b f
                    w[0] = 0x5C
                    w[1] = e
                    w += 2
                case 0x76:  // \v: vertical tab
                    writeControl(&w, 0x0B)
                default:  // `\x` is x in COPY text
                    if e == 0x22 {
                        w[0] = 0x5C
                        w[1] = 0x22
                        w += 2
                    } else if e < 0x20 {
                        writeControl(&w, e)
                    } else {
                        w[0] = e
                        w += 1
                    }
                }
                i &+= 2
            } else if b == 0x5C || b == 0x22 {
                w[0] = 0x5C
                w[1] = b
                w += 2
                i &+= 1
            } else {
                writeControl(&w, b)
                i &+= 1
            }
            run = i
        }
        if end > run {
            w.update(from: p + run, count: end &- run)
            w += end &- run
        }
        w.pointee = 0x22
        out.commit(w + 1)
    }

    /// Whether any of eight bytes is a control character, `"` or `\` (SWAR: a byte is "zero"
    /// after the XOR/subtract exactly when it matches; bytes >= 0x80 never match).
    @inline(__always)
    static func needsAttention(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let control = (word &- ones &* 0x20) & ~word & high
        let q = word ^ (ones &* 0x22)
        let quote = (q &- ones) & ~q & high
        let b = word ^ (ones &* 0x5C)
        let backslash = (b &- ones) & ~b & high
        return (control | quote | backslash) != 0
    }

    @inline(__always)
    private static func writeControl(_ w: inout UnsafeMutablePointer<UInt8>, _ b: UInt8) {
        let hex: StaticString = "0123456789abcdef"
        hex.withUTF8Buffer { h in
            w[0] = 0x5C; w[1] = 0x75; w[2] = 0x30; w[3] = 0x30  // \u00
            w[4] = h[Int(b >> 4)]
            w[5] = h[Int(b & 0x0F)]
        }
        w += 6
    }

    /// Digits as a JSON number, or `null`.
    @inline(__always)
    static func appendNumber(_ out: ByteBuffer, _ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) {
        if isNull(p, start, end) {
            out.append("null")
        } else {
            out.append(p + start, end &- start)
        }
    }

    /// A normalized price (`140`, `69.5`, `0.5`) as the API shows it (`"140.00"`), or `null`.
    @inline(__always)
    static func appendPrice(_ out: ByteBuffer, _ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) {
        if isNull(p, start, end) {
            out.append("null")
            return
        }
        out.reserve(end &- start &+ 5)
        out.put(0x22)
        var dot = start
        while dot < end && p[dot] != 0x2E { dot &+= 1 }
        out.put(p + start, dot &- start)
        out.put(0x2E)
        var decimals = 0
        var i = dot &+ 1
        while i < end && decimals < 2 {
            out.put(p[i])
            i &+= 1
            decimals &+= 1
        }
        while decimals < 2 {
            out.put(0x30)
            decimals &+= 1
        }
        out.put(0x22)
    }

    /// `t`/`f` as `true`/`false` (the converter never writes NULL for a boolean).
    @inline(__always)
    static func appendBoolean(_ out: ByteBuffer, _ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) {
        if end > start && p[start] == 0x74 { out.append("true") } else { out.append("false") }
    }

    /// The value of a digits field (ids and references are never NULL).
    @inline(__always)
    static func integer(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        var v = 0
        var i = start
        while i < end {
            v = v &* 10 &+ Int(p[i] &- 0x30)
            i &+= 1
        }
        return v
    }
}
