/// What the importer's summary must report for a generated export, written next to the
/// CSV files as `manifest.json`.
///
/// For every file `read == loaded + rejected + orphaned + dropped`; `repaired` rows are
/// also counted in `loaded`. The field names match the importer's per-file summary.
public struct Manifest: Codable, Sendable, Equatable {
    /// Generator name and format version; bump the version when the output changes.
    public var generator: String
    public var seed: UInt64
    public var scale: Double
    /// One entry per file, in load order: product, features, styles, skus, photos, related.
    public var files: [FileCounts]
    public var totals: CatalogTotals
    public var samples: ManifestSamples

    public subscript(file: ExportFile) -> FileCounts? {
        files.first { $0.file == file.fileName }
    }
}

public struct FileCounts: Codable, Sendable, Equatable {
    public var file: String
    public var header: String
    public var bytes: Int
    /// Physical lines, the header included (a last line without a newline counts).
    public var lines: Int
    public var byteOrderMark: Bool
    public var crlf: Bool
    public var finalNewline: Bool
    /// CSV records after the header; a quoted field spanning lines is one record.
    public var read: Int
    /// Rows that end up in the served catalog (repaired rows included).
    public var loaded: Int
    public var repaired: Int
    public var rejected: Int
    public var orphaned: Int
    /// related.csv only: rows removed by the 0 / unknown / self / repeated-pair rules.
    public var dropped: Int
    /// Records whose quoted text spans more than one line.
    public var multilineRecords: Int
    /// Damaged rows by kind (`DamageKind` raw values); only kinds present.
    public var damage: [String: Int]
}

public struct CatalogTotals: Codable, Sendable, Equatable {
    /// Loaded rows, i.e. what the API serves.
    public var products: Int
    public var features: Int
    public var styles: Int
    public var skus: Int
    public var photos: Int
    public var related: Int
    /// Product ids run 1…maxProductId, with gaps (missing or rejected rows).
    public var maxProductId: Int
    /// Product ids absent from product.csv that other files point at.
    public var productIdGaps: Int
    /// Style ids absent from styles.csv that skus/photos point at.
    public var styleIdGaps: Int
    public var productsWithoutStyles: Int
    /// Products that have styles, none of them the default.
    public var productsWithoutDefaultStyle: Int
    public var stylesWithoutSkus: Int
    public var stylesWithoutPhotos: Int
    public var bytes: Int
    public var lines: Int
}

public struct ManifestSamples: Codable, Sendable, Equatable {
    /// The first rows of each (file, kind) that are rejected, in file and line order.
    public var rejects: [DamageSample]
    public var orphans: [DamageSample]
    public var dropped: [DamageSample]
    /// Repaired photos, with their url and thumbnail_url as the importer must load them.
    public var repaired: [DamageSample]
    /// Products whose related rows include dropped or rejected ones, with the ids
    /// GET /products/:id/related must return.
    public var related: [RelatedExpectation]
}

public struct DamageSample: Codable, Sendable, Equatable {
    public var file: String
    /// Physical line of the row (header = line 1).
    public var line: Int
    public var kind: DamageKind
    public var outcome: DamageOutcome
    /// The id field as written (not an integer for `nonIntegerId`).
    public var id: String
    /// The parent key as written: product id, or style id for skus/photos.
    public var parentId: String
    /// Repaired photos only: the values after repair.
    public var url: String?
    public var thumbnailUrl: String?
}

public struct RelatedExpectation: Codable, Sendable, Equatable {
    public var productId: Int
    public var related: [Int]
    public var because: DamageKind
}

/// Counts one file's rows as they are written.
struct FileTally {
    let file: ExportFile
    var read = 0
    var loaded = 0
    var repaired = 0
    var rejected = 0
    var orphaned = 0
    var dropped = 0
    var multilineRecords = 0
    /// Physical line of the next record.
    private(set) var nextLine = 2
    private(set) var damage = [Int](repeating: 0, count: DamageKind.allCases.count)
    private(set) var samples: [DamageSample] = []
    static let samplesPerKind = 3

    init(file: ExportFile) { self.file = file }

    /// A row that loads as written.
    @inline(__always)
    mutating func clean(lines: Int = 1) {
        read += 1
        loaded += 1
        nextLine += lines
        if lines > 1 { multilineRecords += 1 }
    }

    /// A damaged row, written as one line.
    mutating func damaged(_ kind: DamageKind, id: @autoclosure () -> String, parent: @autoclosure () -> String,
                          url: String? = nil, thumbnailUrl: String? = nil) {
        read += 1
        switch kind.outcome {
        case .repaired: repaired += 1; loaded += 1
        case .rejected: rejected += 1
        case .orphaned: orphaned += 1
        case .dropped: dropped += 1
        }
        let k = DamageKind.allCases.firstIndex(of: kind)!
        if damage[k] < Self.samplesPerKind {
            samples.append(DamageSample(file: file.fileName, line: nextLine, kind: kind, outcome: kind.outcome,
                                        id: id(), parentId: parent(), url: url, thumbnailUrl: thumbnailUrl))
        }
        damage[k] += 1
        nextLine += 1
    }

    var physicalLines: Int { nextLine - 1 }

    func counts(bytes: Int) -> FileCounts {
        var byKind: [String: Int] = [:]
        for (i, kind) in DamageKind.allCases.enumerated() where damage[i] > 0 { byKind[kind.rawValue] = damage[i] }
        return FileCounts(
            file: file.fileName, header: file.header, bytes: bytes, lines: physicalLines,
            byteOrderMark: file.hasByteOrderMark, crlf: file.usesCRLF, finalNewline: file.endsWithNewline,
            read: read, loaded: loaded, repaired: repaired, rejected: rejected, orphaned: orphaned,
            dropped: dropped, multilineRecords: multilineRecords, damage: byKind)
    }
}

/// What one file's writer reports back.
struct FileResult: Sendable {
    var counts: FileCounts
    var samples: [DamageSample]
    var related: [RelatedExpectation] = []
    var productIdGaps = 0
    var styleIdGaps = 0
    var productsWithoutStyles = 0
    var productsWithoutDefaultStyle = 0
    var stylesWithoutRows = 0
}
