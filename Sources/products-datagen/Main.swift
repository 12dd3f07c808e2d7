import ArgumentParser
import CatalogDatagen
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct ProductsDatagen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "products-datagen",
        abstract: "Write a realistic, deliberately damaged copy of the legacy catalog export.",
        discussion: """
            Writes product.csv, features.csv, styles.csv, skus.csv, photos.csv and related.csv \
            (the six files of the legacy export, with its dialect and every kind of damage listed \
            in docs/importer.md) plus manifest.json, which states what an import of these files must report: \
            per file read / loaded / repaired / rejected / orphaned / dropped, and sample rows.

            The same --seed and --scale always give byte-identical files. Scale 1.0 is the real \
            export (1,000,011 products, about 4.9 GB); 0.001 is about 1,000 products.
            """)

    @Option(help: "Directory to write the files into (created if missing; existing files are replaced).")
    var out: String

    @Option(help: "Size relative to the real export: 1.0 = 1,000,011 products (~4.9 GB), 0.001 = ~1,000 products.")
    var scale: Double = 0.001

    @Option(help: "Seed for every random choice; the same seed and scale give the same bytes.")
    var seed: UInt64 = 42

    func validate() throws {
        guard scale.isFinite, scale >= 0, scale <= 100 else {
            throw ValidationError("--scale must be between 0 and 100")
        }
    }

    func run() throws {
        let start = now()
        let manifest = try generateExport(
            to: out, options: GeneratorOptions(scale: scale, seed: seed, reportsProgress: isatty(2) == 1))
        let seconds = now() - start
        let mb = Double(manifest.totals.bytes) / 1e6
        print("""
            wrote \(manifest.totals.products) products, \(manifest.totals.lines) lines, \
            \(Int(mb.rounded())) MB to \(out) in \(seconds.formatted1) s \
            (\(Int((mb / max(seconds, 0.001)).rounded())) MB/s); expectations in \(out)/manifest.json
            """)
    }
}

private func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

extension Double {
    fileprivate var formatted1: String {
        let tenths = Int((self * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
