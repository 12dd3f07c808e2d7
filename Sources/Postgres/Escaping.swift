/// COPY text format escaping (https://www.postgresql.org/docs/current/sql-copy.html).
public enum CopyText {
    /// `\N`: SQL NULL in COPY text format.
    public static let null: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "N")]

    /// Appends `field` to `out`, escaping backslash, tab, newline and carriage return.
    @inlinable
    public static func appendEscaped(_ field: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        // Fast path: most fields need no escaping.
        var needs = false
        for b in field where b == 0x5C || b == 0x09 || b == 0x0A || b == 0x0D { needs = true; break }
        if !needs { out.append(contentsOf: field); return }
        for b in field {
            switch b {
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            default: out.append(b)
            }
        }
    }
}
