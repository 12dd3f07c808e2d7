import CatalogDatagen
import Foundation
import Testing

/// The generator's promises, checked on a small export (scale 0.001, ~1,000 products):
/// the same seed gives the same bytes; the files have the real export's headers, dialect
/// and shapes; every kind of damage is there; and `manifest.json` states exactly what an
/// importer following docs/importer.md must report. That last check uses `ReferenceReader` below,
/// a deliberately plain reading of the rules in docs/importer.md that shares no code with the generator.
@Suite("Data generator")
struct DatagenTests {
    /// One export shared by the tests that only read it.
    static let small = GeneratedExport(seed: 42, scale: 0.001)
    /// The same export as read by the reference reader.
    static let reading = try! ReferenceReader(directory: small.directory)

    @Test func sameSeedAndScaleGiveTheSameBytes() throws {
        let again = GeneratedExport(seed: 42, scale: 0.001)
        defer { again.remove() }
        for name in ExportFile.allCases.map(\.fileName) + ["manifest.json"] {
            let a = try Data(contentsOf: Self.small.url(name))
            let b = try Data(contentsOf: again.url(name))
            #expect(a == b, "\(name) differs between two runs with the same seed")
        }
        let other = GeneratedExport(seed: 43, scale: 0.001)
        defer { other.remove() }
        #expect(try Data(contentsOf: Self.small.url("photos.csv")) != Data(contentsOf: other.url("photos.csv")))
    }

    @Test func headersAndFileQuirksAreExact() throws {
        for file in ExportFile.allCases {
            let bytes = try [UInt8](Data(contentsOf: Self.small.url(file.fileName)))
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            #expect(Array(bytes.prefix(3)) == bom ? file == .product : file != .product, "BOM in \(file)")
            let body = Array(bytes.dropFirst(file == .product ? 3 : 0))
            let firstLine = body.prefix { $0 != 0x0A }
            let expected = Array(file.header.utf8) + (file == .features ? [0x0D] : [])
            #expect(Array(firstLine) == expected, "header of \(file)")
            #expect((bytes.last == 0x0A) == (file != .related), "final newline of \(file)")
            // Every line of features.csv ends CRLF, and no line of the others does.
            var crlf = 0, lf = 0
            for i in bytes.indices where bytes[i] == 0x0A {
                if i > 0 && bytes[i - 1] == 0x0D { crlf += 1 } else { lf += 1 }
            }
            if file == .features { #expect(lf == 0 && crlf > 0) } else { #expect(crlf == 0) }
        }
        #expect(Self.small.manifest.files.map(\.file) == ExportFile.allCases.map(\.fileName))
        #expect(Self.small.manifest.files.map(\.header) == ExportFile.allCases.map(\.header))
    }

    @Test func everyKindOfDamageIsPresent() {
        let manifest = Self.small.manifest
        for file in ExportFile.allCases {
            let counts = manifest[file]!
            for kind in file.injectedDamage {
                #expect(counts.damage[kind.rawValue, default: 0] >= 1, "\(kind) in \(file)")
            }
            #expect(Set(counts.damage.keys).isSubset(of: file.injectedDamage.map(\.rawValue)), "\(file)")
        }
        #expect(manifest[.photos]!.damage["unclosedQuoteAtEnd"] == 1)
        #expect(manifest[.product]!.multilineRecords >= 1)
        #expect(manifest.totals.productIdGaps >= 1 && manifest.totals.styleIdGaps >= 1)
        #expect(manifest.totals.productsWithoutStyles >= 1 && manifest.totals.productsWithoutDefaultStyle >= 1)
        #expect(manifest.totals.stylesWithoutSkus >= 1 && manifest.totals.stylesWithoutPhotos >= 1)
    }

    @Test func manifestAddsUp() throws {
        let manifest = Self.small.manifest
        #expect(manifest.totals.products == 1000)
        #expect(manifest.seed == 42 && manifest.scale == 0.001)
        for f in manifest.files {
            #expect(f.read == f.loaded + f.rejected + f.orphaned + f.dropped, "\(f.file)")
            #expect(f.read == f.damage.values.reduce(0, +) + (f.loaded - f.repaired), "\(f.file)")
            let onDisk = try FileManager.default.attributesOfItem(atPath: Self.small.url(f.file).path)[.size] as? Int
            #expect(onDisk == f.bytes, "\(f.file)")
            if f.file != "related.csv" { #expect(f.dropped == 0) }
        }
        let loaded = manifest.files.map(\.loaded)
        let t = manifest.totals
        #expect(loaded == [t.products, t.features, t.styles, t.skus, t.photos, t.related])
        #expect(t.bytes == manifest.files.reduce(0) { $0 + $1.bytes })
        #expect(t.lines == manifest.files.reduce(0) { $0 + $1.lines })
        // manifest.json is the returned manifest.
        let decoded = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: Self.small.url("manifest.json")))
        #expect(decoded == manifest)
    }

    /// The heart of it: an independent reading of the files gives exactly the manifest.
    @Test func independentReadingMatchesTheManifest() throws {
        let reader = Self.reading
        let manifest = Self.small.manifest
        for file in ExportFile.allCases {
            let expected = manifest[file]!
            let got = reader.summary[file]!
            #expect(got.read == expected.read, "read \(file)")
            #expect(got.loaded == expected.loaded, "loaded \(file)")
            #expect(got.repaired == expected.repaired, "repaired \(file)")
            #expect(got.rejected == expected.rejected, "rejected \(file)")
            #expect(got.orphaned == expected.orphaned, "orphaned \(file)")
            #expect(got.dropped == expected.dropped, "dropped \(file)")
            #expect(got.lines == expected.lines, "lines \(file)")
            #expect(got.multiline == expected.multilineRecords, "multiline \(file)")
            #expect(got.damage == expected.damage, "damage by kind \(file)")
        }
        #expect(reader.productIds.count == manifest.totals.products)
        #expect(reader.productIds.max() == manifest.totals.maxProductId)

        // Every sample names a row that really is what the manifest says.
        let samples = manifest.samples
        #expect(!samples.rejects.isEmpty && !samples.orphans.isEmpty && !samples.dropped.isEmpty)
        for sample in samples.rejects + samples.orphans + samples.dropped + samples.repaired {
            let file = ExportFile(rawValue: sample.file)!
            let record = try #require(reader.records[file]!.first { $0.line == sample.line }, "\(sample)")
            #expect(record.outcome?.kind == sample.kind, "\(sample)")
            #expect(record.fields.first == sample.id, "\(sample)")
            if let url = sample.url {
                #expect(record.fields[2] == url && record.fields[3] == sample.thumbnailUrl, "\(sample)")
            }
        }
        #expect(samples.repaired.filter { $0.url != nil }.count == samples.repaired.count)
        #expect(samples.repaired.contains { $0.kind == .unclosedQuoteAtEnd })
        for expectation in samples.related {
            #expect(reader.related[expectation.productId] == expectation.related, "\(expectation)")
        }
    }

    @Test func idsAscendAndParentKeysNeverDecrease() throws {
        let reader = Self.reading
        for file in ExportFile.allCases {
            var lastId = 0, lastParent = 0
            for record in reader.records[file]! {
                if let id = Int(record.fields[0]) {
                    if record.outcome?.kind == .duplicateId {
                        #expect(id == lastId, "\(file) line \(record.line)")
                    } else {
                        #expect(id > lastId, "\(file) line \(record.line)")
                    }
                    lastId = id
                }
                if file != .product, record.fields.count > 1, let parent = Int(record.fields[1]) {
                    #expect(parent >= lastParent, "\(file) line \(record.line)")
                    lastParent = parent
                }
            }
        }
    }

    @Test func rowsLookLikeTheRealExport() throws {
        let reader = Self.reading
        let good = { (file: ExportFile) in reader.records[file]!.filter { $0.outcome == nil } }
        let price = #/[0-9]+(\.[0-9]{1,2})?/#

        for r in good(.product) {
            #expect(r.fields[1].split(separator: " ").count >= 2)  // "Belle Shirt"
            #expect(r.fields[1].hasSuffix(r.fields[4]))            // … its category
            #expect(r.fields[3].count >= 20)
            #expect(r.fields[5].wholeMatch(of: price) != nil)
        }
        #expect(good(.product).contains { $0.fields[3].contains("\"") })
        #expect(good(.product).contains { $0.fields[2].contains(",") || $0.fields[3].contains(",") })
        #expect(good(.product).contains { $0.fields[5].contains(".") })

        #expect(good(.features).contains { $0.fields[3] == "null" })
        #expect(good(.features).contains { $0.fields[3].contains(",") })

        let styles = good(.styles)
        #expect(Set(styles.map(\.fields[5])) == ["0", "1", "true", "false"])
        #expect(styles.contains { $0.fields[3] == "" } && styles.contains { $0.fields[3] == "null" })
        #expect(styles.contains { $0.fields[3].wholeMatch(of: price) != nil })
        #expect(styles.filter { $0.fields[3] == "null" }.count > styles.count / 2)
        #expect(styles.allSatisfy { $0.fields[4].wholeMatch(of: price) != nil })

        let sizes: Set<String> = ["XS", "S", "M", "L", "XL", "XXL", "One Size", "7", "7.5", "8", "8.5", "9", "9.5",
                                  "10", "10.5", "11", "11.5", "12"]
        #expect(good(.skus).allSatisfy { sizes.contains($0.fields[2]) && Int($0.fields[3]) != nil })

        for r in good(.photos) {
            for url in r.fields[2...3] {
                #expect(url.hasPrefix("https://images.unsplash.com/photo-"))
                #expect((100...140).contains(url.count), "\(url.count)")
            }
            #expect(r.fields[3].hasSuffix("&w=300&q=80") && !r.fields[2].hasSuffix("&w=300&q=80"))
        }
    }

    @Test func shapesFollowTheRealExport() {
        let t = Self.small.manifest.totals
        let perProduct = { (n: Int) in Double(n) / Double(t.products) }
        let perStyle = { (n: Int) in Double(n) / Double(t.styles) }
        #expect(abs(perProduct(t.features) - 2.2) < 0.25)
        #expect(abs(perProduct(t.styles) - 4.7) < 0.3)
        #expect(abs(perProduct(t.related) - 4.5) < 0.3)
        #expect(abs(perStyle(t.skus) - 5.8) < 0.3)
        #expect(abs(perStyle(t.photos) - 2.9) < 0.25)
        // ~288 bytes per product row and ~271 per photo row at full scale; ids are shorter here.
        let bytesPerPhoto = Double(Self.small.manifest[.photos]!.bytes) / Double(t.photos)
        #expect((250...290).contains(bytesPerPhoto))
    }

    @Test func smallScalesStillCarryEveryKind() throws {
        let tiny = GeneratedExport(seed: 9, scale: 0.0001)
        defer { tiny.remove() }
        #expect(tiny.manifest.totals.products == 100)
        let reader = try ReferenceReader(directory: tiny.directory)
        for file in ExportFile.allCases {
            let counts = tiny.manifest[file]!
            for kind in file.injectedDamage {
                #expect(counts.damage[kind.rawValue, default: 0] >= 1, "\(kind) in \(file)")
            }
            #expect(reader.summary[file]!.damage == counts.damage, "\(file)")
            #expect(reader.summary[file]!.loaded == counts.loaded, "\(file)")
        }
    }
}

// MARK: - helpers

/// An export in a fresh temporary directory.
struct GeneratedExport: Sendable {
    let directory: String
    let manifest: Manifest

    init(seed: UInt64, scale: Double) {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("datagen-\(seed)-\(scale)-\(UUID().uuidString)").path
        manifest = try! generateExport(to: directory, options: GeneratorOptions(scale: scale, seed: seed))
    }

    func url(_ name: String) -> URL { URL(fileURLWithPath: directory).appendingPathComponent(name) }
    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// A plain, slow reading of the six files by the rules of docs/importer.md and docs/api.md, written
/// independently of the generator: split records (repairing the two known quote faults),
/// reject, then orphan, then drop related rows; classify every row by kind.
struct ReferenceReader {
    struct Outcome: Equatable {
        let kind: DamageKind
    }

    struct Record {
        let line: Int
        var fields: [String]
        /// nil for a row that loads as written.
        var outcome: Outcome?
        var lines: Int
    }

    struct Summary {
        var read = 0, loaded = 0, repaired = 0, rejected = 0, orphaned = 0, dropped = 0
        var lines = 0, multiline = 0
        var damage: [String: Int] = [:]
    }

    var records: [ExportFile: [Record]] = [:]
    var summary: [ExportFile: Summary] = [:]
    var productIds = Set<Int>()
    /// Product id → related ids as the API must serve them.
    var related: [Int: [Int]] = [:]

    init(directory: String) throws {
        for file in ExportFile.allCases {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(file.fileName)))
            records[file] = Self.split(bytes, file: file)
            var s = Summary()
            s.lines = bytes.filter { $0 == 0x0A }.count + (bytes.last == 0x0A ? 0 : 1)
            summary[file] = s
        }
        // Rejects: parse and type errors, then duplicate ids (the first wins).
        for file in ExportFile.allCases {
            var seen = Set<Int>()
            for i in records[file]!.indices {
                var r = records[file]![i]
                if r.outcome == nil || r.outcome!.kind.outcome == .repaired {
                    if let reason = Self.rejectReason(r, file: file) {
                        r.outcome = Outcome(kind: reason)
                    } else if !seen.insert(Int(r.fields[0])!).inserted {
                        r.outcome = Outcome(kind: .duplicateId)
                    }
                }
                records[file]![i] = r
            }
        }
        func loadedIds(_ file: ExportFile) -> Set<Int> {
            Set(records[file]!.filter { $0.outcome == nil || $0.outcome!.kind.outcome == .repaired }.map { Int($0.fields[0])! })
        }
        productIds = loadedIds(.product)
        // Orphans.
        for file in [ExportFile.features, .styles, .related] {
            orphan(file, parents: productIds)
        }
        let styleIds = loadedIds(.styles)
        orphan(.skus, parents: styleIds)
        orphan(.photos, parents: styleIds)
        // Related drops, in id order (the file is in id order).
        var pairs = Set<[Int]>()
        for i in records[.related]!.indices where records[.related]![i].outcome == nil {
            let f = records[.related]![i].fields.map { Int($0)! }
            let kind: DamageKind?
            if f[2] == 0 { kind = .relatedToZero }
            else if !productIds.contains(f[2]) { kind = .relatedToUnknownProduct }
            else if f[2] == f[1] { kind = .relatedToSelf }
            else if !pairs.insert([f[1], f[2]]).inserted { kind = .relatedRepeatedPair }
            else { kind = nil; related[f[1], default: []].append(f[2]) }
            if let kind { records[.related]![i].outcome = Outcome(kind: kind) }
        }
        for file in ExportFile.allCases {
            var s = summary[file]!
            for r in records[file]! {
                s.read += 1
                if r.lines > 1 { s.multiline += 1 }
                guard let kind = r.outcome?.kind else { s.loaded += 1; continue }
                s.damage[kind.rawValue, default: 0] += 1
                switch kind.outcome {
                case .repaired: s.repaired += 1; s.loaded += 1
                case .rejected: s.rejected += 1
                case .orphaned: s.orphaned += 1
                case .dropped: s.dropped += 1
                }
            }
            summary[file] = s
        }
    }

    private mutating func orphan(_ file: ExportFile, parents: Set<Int>) {
        for i in records[file]!.indices {
            let r = records[file]![i]
            let loads = r.outcome == nil || r.outcome!.kind.outcome == .repaired
            if loads && !parents.contains(Int(r.fields[1])!) {
                records[file]![i].outcome = Outcome(kind: .orphan)
            }
        }
    }

    private static func rejectReason(_ r: Record, file: ExportFile) -> DamageKind? {
        let raw = r.fields.joined(separator: ",")
        if raw.utf8.contains(0) { return .nulByte }
        if raw.contains("\u{FFFD}") { return .invalidUTF8 }  // fields were decoded with replacement
        let header = file.header.split(separator: ",")
        if r.fields.count != header.count { return .wrongFieldCount }
        let integer = #/[0-9]+/#
        let number = #/[0-9]+(\.[0-9]+)?/#
        if r.fields[0].wholeMatch(of: integer) == nil { return .nonIntegerId }
        if file != .product && r.fields[1].wholeMatch(of: integer) == nil { return .nonIntegerReference }
        if file == .related && r.fields[2].wholeMatch(of: integer) == nil { return .nonIntegerReference }
        switch file {
        case .product:
            if r.fields[5].wholeMatch(of: number) == nil { return .priceNotNumber }
        case .styles:
            if r.fields[4].wholeMatch(of: number) == nil { return .priceNotNumber }
            if !["null", ""].contains(r.fields[3]) && r.fields[3].wholeMatch(of: number) == nil { return .priceNotNumber }
        case .skus:
            if r.fields[3].wholeMatch(of: integer) == nil { return .quantityNotNumber }
        default: break
        }
        return nil
    }

    /// Splits a file into records after the header. Fields are decoded as UTF-8 with
    /// replacement characters, so invalid bytes stay visible as U+FFFD.
    private static func split(_ all: [UInt8], file: ExportFile) -> [Record] {
        var bytes = all[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        var records: [Record] = []
        var i = bytes.startIndex
        var line = 1
        var isHeader = true

        func startsRecord(_ at: Int) -> Bool {  // digits then a comma
            var j = at
            while j < bytes.endIndex && (0x30...0x39).contains(bytes[j]) { j += 1 }
            return j > at && j < bytes.endIndex && bytes[j] == 0x2C
        }

        while i < bytes.endIndex {
            let startLine = line
            var fields: [String] = []
            var repaired: DamageKind?
            var field: [UInt8] = []
            var atEnd = false
            while !atEnd {
                field.removeAll()
                if i < bytes.endIndex && bytes[i] == 0x22 {
                    i += 1
                    var closed = false
                    while !closed {
                        if i == bytes.endIndex {
                            repaired = .unclosedQuoteAtEnd
                            closed = true
                            atEnd = true
                        } else if bytes[i] == 0x22 {
                            if i + 1 < bytes.endIndex && bytes[i + 1] == 0x22 {
                                field.append(0x22); i += 2
                            } else {
                                i += 1; closed = true
                            }
                        } else if bytes[i] == 0x0A && (i + 1 == bytes.endIndex || startsRecord(i + 1)) {
                            // A quote left open at the end of the line: close it there.
                            if field.last == 0x0D { field.removeLast() }
                            repaired = i + 1 == bytes.endIndex ? .unclosedQuoteAtEnd : .unclosedQuote
                            i += 1; line += 1
                            closed = true
                            atEnd = true
                        } else {
                            if bytes[i] == 0x0A { line += 1 }
                            field.append(bytes[i]); i += 1
                        }
                    }
                    fields.append(String(decoding: field, as: UTF8.self))
                    if atEnd { break }
                } else {
                    while i < bytes.endIndex && ![0x2C, 0x0A, 0x0D].contains(bytes[i]) {
                        if bytes[i] == 0x22 {
                            // A stray quote closing an unquoted field: drop it.
                            repaired = .strayQuote
                        } else {
                            field.append(bytes[i])
                        }
                        i += 1
                    }
                    fields.append(String(decoding: field, as: UTF8.self))
                }
                if i == bytes.endIndex { break }
                switch bytes[i] {
                case 0x2C: i += 1
                case 0x0D where i + 1 < bytes.endIndex && bytes[i + 1] == 0x0A: i += 2; line += 1; atEnd = true
                case 0x0A: i += 1; line += 1; atEnd = true
                default: Issue.record("unexpected byte \(bytes[i]) after a field on line \(line) of \(file)"); i += 1
                }
            }
            if isHeader {
                #expect(fields.joined(separator: ",") == file.header)
                isHeader = false
                continue
            }
            records.append(Record(line: startLine, fields: fields, outcome: repaired.map { Outcome(kind: $0) },
                                  lines: max(1, line - startLine)))
        }
        return records
    }
}
