// Small pieces every file's writer uses: the header, line ends, and the spellings of
// the damage (bad prices, bad bytes, ids that are not integers).

extension OutputFile {
    /// The header line, with the file's BOM and line end.
    mutating func header(_ file: ExportFile) throws {
        try reserve()
        if file.hasByteOrderMark { byte(0xEF); byte(0xBB); byte(0xBF) }
        text(file.header)
        endRow(file)
    }

    @inline(__always)
    mutating func endRow(_ file: ExportFile) {
        if file.usesCRLF { byte(0x0D) }
        byte(0x0A)
    }

    /// Writes a String's UTF-8 bytes (damaged rows only; the hot path uses `Bytes`).
    mutating func text(_ s: String) {
        for b in s.utf8 { byte(b) }
    }

    @inline(__always)
    mutating func comma() { byte(0x2C) }

    @inline(__always)
    mutating func quote() { byte(0x22) }
}

/// How the damage is spelled. Each spelling is damaged in exactly the one way its kind
/// names (a bad price is not also a bad id, and so on).
enum Spelling {
    /// Not integers, and not plausible as NULL: `17.5`, `17a`, `#18`, `18x`.
    static func nonIntegerId(after last: Int, _ rng: inout Xoshiro256) -> String {
        switch rng.below(4) {
        case 0: "\(last).5"
        case 1: "\(last)a"
        case 2: "#\(last + 1)"
        default: "\(last + 1)x"
        }
    }

    static func nonIntegerReference(_ id: Int, _ rng: inout Xoshiro256) -> String {
        switch rng.below(3) {
        case 0: "\(id)x"
        case 1: "p\(id)"
        default: "\(id).5"
        }
    }

    static let badPrices = ["free", "$99", "12.50.0", "1O0", "ask"]
    static let badQuantities = ["ten", "5pcs", "many", "?", "1O"]

    /// Byte sequences that are never valid UTF-8.
    static let badBytes: [[UInt8]] = [[0xFF], [0xE9], [0xC3, 0x28], [0x80], [0xFE, 0xFE]]

    static func badUTF8(_ rng: inout Xoshiro256) -> [UInt8] { badBytes[rng.below(badBytes.count)] }
}
