import CatalogCSV

/// Renders the fields of an accepted CSV record (`CSVRecord`, straight from the reader's
/// buffer) as JSON values, byte for byte what the legacy API shows.
///
/// Strings: quoted with `"`; a `""` pair of the CSV (`doubledQuotes`) is one quote; `"` and `\`
/// are escaped; tab, line feed and carriage return as `\t`, `\n`, `\r`, every other control
/// character as `\u00XX`; all other bytes (valid UTF-8, no NUL: the reader checked) as they are.
/// Prices: strings with exactly two decimals (`"140.00"`). NULL: `null`.
enum JSONText {
    /// A text field as a JSON string (or `null`).
    @inline(__always)
    static func appendString(_ out: ByteBuffer, _ p: UnsafePointer<UInt8>, _ field: CSVField) {
        if field.isNull {
            out.append("null")
            return
        }
        appendString(out, p, field.start, field.end, doubledQuotes: field.doubledQuotes)
    }

    /// Bytes `start..<end` of `p` as a JSON string.
    @inline(__always)
    static func appendString(_ out: ByteBuffer, _ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, doubledQuotes: Bool = false) {
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
            switch b {
            case 0x22:
                w[0] = 0x5C
                w[1] = 0x22
                w += 2
                i &+= doubledQuotes ? 2 : 1  // a `""` pair is one quote
            case 0x5C:
                w[0] = 0x5C
                w[1] = 0x5C
                w += 2
                i &+= 1
            case 0x09, 0x0A, 0x0D:
                w[0] = 0x5C
                w[1] = b == 0x09 ? 0x74 : b == 0x0A ? 0x6E : 0x72  // t n r
                w += 2
                i &+= 1
            default:
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

    /// An integer field as a JSON number, or `null`.
    @inline(__always)
    static func appendNumber(_ out: ByteBuffer, _ field: CSVField) {
        if field.isNull { out.append("null") } else { out.appendDecimal(field.value) }
    }

    /// A price field (cents) as the API shows it (`"140.00"`), or `null`.
    @inline(__always)
    static func appendPrice(_ out: ByteBuffer, _ field: CSVField) {
        if field.isNull {
            out.append("null")
            return
        }
        let cents = field.value % 100
        out.append(0x22)
        out.appendDecimal(field.value / 100)
        out.reserve(4)
        out.put(0x2E)
        out.put(0x30 &+ UInt8(cents / 10))
        out.put(0x30 &+ UInt8(cents % 10))
        out.put(0x22)
    }

    /// A boolean field as `true`/`false`.
    @inline(__always)
    static func appendBoolean(_ out: ByteBuffer, _ field: CSVField) {
        if field.value != 0 { out.append("true") } else { out.append("false") }
    }
}
