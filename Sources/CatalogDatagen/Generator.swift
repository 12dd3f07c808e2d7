import Foundation  // directory creation, the worker thread and the manifest's JSON: off the hot path

public struct GeneratorOptions: Sendable, Equatable {
    /// 1.0 = the real export's sizes (1,000,011 products, ~4.9 GB); 0.001 = ~1,000 products.
    /// Below 0.0001 the catalog stays at 100 products.
    public var scale: Double
    public var seed: UInt64
    /// Draw a progress line on stderr (the command line tool sets it when stderr is a terminal).
    public var reportsProgress: Bool

    public init(scale: Double = 0.001, seed: UInt64 = 42, reportsProgress: Bool = false) {
        self.scale = scale
        self.seed = seed
        self.reportsProgress = reportsProgress
    }
}

/// Name and output version; bump the version whenever the same seed and scale would give
/// different bytes.
public let datagenVersion = "products-datagen/1"

/// Writes the six CSV files and `manifest.json` into `directory` (created if needed) and
/// returns the manifest. The same seed and scale always give byte-identical files.
///
/// photos.csv (three quarters of the bytes) is written on a second thread while this one
/// writes the five other files.
@discardableResult
public func generateExport(to directory: String, options: GeneratorOptions = GeneratorOptions()) throws -> Manifest {
    guard options.scale.isFinite, options.scale >= 0 else {
        throw DatagenError("scale must be a non-negative number, got \(options.scale)")
    }
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let plan = CatalogPlan(seed: options.seed, scale: options.scale)
    let vocab = Vocabulary(seed: options.seed)
    let progress = ProgressMeter(enabled: options.reportsProgress)

    @Sendable func output(_ file: ExportFile) throws -> OutputFile {
        progress.began(file)
        return try OutputFile(path: directory + "/" + file.fileName) { progress.wrote(file, totalBytes: $0) }
    }
    @Sendable func finished(_ file: ExportFile, _ result: FileResult) -> FileResult {
        progress.ended(file)
        return result
    }

    let photosJob: @Sendable () throws -> [FileResult] = {
        var photos = PhotoWriter(plan: plan, vocab: vocab, out: try output(.photos))
        return [finished(.photos, try photos.run())]
    }
    let othersJob: @Sendable () throws -> [FileResult] = {
        var product = ProductWriter(plan: plan, vocab: vocab, out: try output(.product))
        let p = finished(.product, try product.run())
        var features = FeatureWriter(plan: plan, vocab: vocab, out: try output(.features))
        let f = finished(.features, try features.run())
        var styles = StyleWriter(plan: plan, vocab: vocab, out: try output(.styles))
        let st = finished(.styles, try styles.run())
        var skus = SkuWriter(plan: plan, vocab: vocab, out: try output(.skus))
        let sk = finished(.skus, try skus.run())
        var related = RelatedWriter(plan: plan, out: try output(.related))
        let r = finished(.related, try related.run())
        return [p, f, st, sk, r]
    }
    let results = try runConcurrently([othersJob, photosJob]).flatMap { $0 }
    progress.finish()

    var byFile: [ExportFile: FileResult] = [:]
    for r in results { byFile[ExportFile(rawValue: r.counts.file)!] = r }
    let ordered = ExportFile.allCases.map { byFile[$0]! }
    let all = ordered.flatMap(\.samples)

    let manifest = Manifest(
        generator: datagenVersion,
        seed: options.seed,
        scale: options.scale,
        files: ordered.map(\.counts),
        totals: CatalogTotals(
            products: byFile[.product]!.counts.loaded,
            features: byFile[.features]!.counts.loaded,
            styles: byFile[.styles]!.counts.loaded,
            skus: byFile[.skus]!.counts.loaded,
            photos: byFile[.photos]!.counts.loaded,
            related: byFile[.related]!.counts.loaded,
            maxProductId: plan.maxProductId,
            productIdGaps: byFile[.product]!.productIdGaps,
            styleIdGaps: byFile[.styles]!.styleIdGaps,
            productsWithoutStyles: byFile[.styles]!.productsWithoutStyles,
            productsWithoutDefaultStyle: byFile[.styles]!.productsWithoutDefaultStyle,
            stylesWithoutSkus: byFile[.skus]!.stylesWithoutRows,
            stylesWithoutPhotos: byFile[.photos]!.stylesWithoutRows,
            bytes: ordered.reduce(0) { $0 + $1.counts.bytes },
            lines: ordered.reduce(0) { $0 + $1.counts.lines }),
        samples: ManifestSamples(
            rejects: all.filter { $0.outcome == .rejected },
            orphans: all.filter { $0.outcome == .orphaned },
            dropped: all.filter { $0.outcome == .dropped },
            repaired: all.filter { $0.outcome == .repaired },
            related: byFile[.related]!.related))

    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    var json = try encoder.encode(manifest)
    json.append(0x0A)
    try json.write(to: URL(fileURLWithPath: directory + "/manifest.json"))
    return manifest
}

/// Runs each job on its own thread (the first on the calling thread) and returns their
/// results in order, or the first job's error.
private func runConcurrently<T: Sendable>(_ jobs: [@Sendable () throws -> T]) throws -> [T] {
    let slots = jobs.map { _ in ResultSlot<T>() }
    let done = DispatchSemaphore(value: 0)
    for i in jobs.indices.dropFirst() {
        let job = jobs[i], slot = slots[i]
        let thread = Thread {
            slot.result = Result { try job() }
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
    slots[0].result = Result { try jobs[0]() }
    for _ in jobs.indices.dropFirst() { done.wait() }
    return try slots.map { try $0.result!.get() }
}

/// Written by one thread, read by another after it signalled.
private final class ResultSlot<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
