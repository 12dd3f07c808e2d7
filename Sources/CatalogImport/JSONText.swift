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
        out.put(0x22)
        var i = start
        var run = start
        while i < end {
            let b = p[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C {
                i &+= 1
                continue
            }
            if i > run { out.put(p + run, i &- run) }
            if b == 0x5C && i &+ 1 < end {
                // A COPY escape. `\\`, `\t`, `\n`, `\r` are spelled the same in JSON.
                let e = p[i &+ 1]
                switch e {
                case 0x5C, 0x74, 0x6E, 0x72, 0x62, 0x66:  // \ t n r b f
                    out.put(0x5C)
                    out.put(e)
                case 0x76:  // \v: vertical tab
                    appendControl(out, 0x0B)
                default:  // `\x` is x in COPY text
                    if e == 0x22 { out.put(0x5C); out.put(0x22) } else if e < 0x20 { appendControl(out, e) } else { out.put(e) }
                }
                i &+= 2
            } else if b == 0x5C {
                out.put(0x5C)
                out.put(0x5C)
                i &+= 1
            } else if b == 0x22 {
                out.put(0x5C)
                out.put(0x22)
                i &+= 1
            } else {
                appendControl(out, b)
                i &+= 1
            }
            run = i
        }
        if i > run { out.put(p + run, i &- run) }
        out.put(0x22)
    }

    @inline(__always)
    private static func appendControl(_ out: ByteBuffer, _ b: UInt8) {
        let hex: StaticString = "0123456789abcdef"
        hex.withUTF8Buffer { h in
            out.put(0x5C); out.put(0x75); out.put(0x30); out.put(0x30)  // \u00
            out.put(h[Int(b >> 4)])
            out.put(h[Int(b & 0x0F)])
        }
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
