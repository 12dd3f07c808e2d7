#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Room for an import, checked before anything changes (issue 24): the new catalog is built
/// beside the one serving, and PostgreSQL writes WAL for all of it. Measured on the full
/// catalog (1,000,011 products, 2026-12-06): a 4.89 GB export became a 3.49 GB catalog schema
/// (tables, indexes, TOAST), 0.72 of the export's bytes.
public struct DiskCheck: Sendable, Equatable {
    /// Bytes the new catalog takes per byte of export, when no catalog is serving yet (0.72
    /// measured, rounded up).
    public static let catalogPerExportByte = 0.8
    /// Headroom on top of the estimate.
    public static let margin = 1.1

    public var need: UInt64
    public var catalogBytes: UInt64
    public var walBytes: UInt64

    /// The larger of the serving catalog's size (the new one will be about as large) and the
    /// export's bytes × ``catalogPerExportByte``; plus the WAL written for it, which checkpoints
    /// recycle past max_wal_size (so: the catalog's size, at most max_wal_size); × ``margin``.
    public init(liveCatalogBytes: UInt64?, exportBytes: UInt64, maxWalBytes: UInt64) {
        let fromExport = UInt64(Double(exportBytes) * Self.catalogPerExportByte)
        catalogBytes = max(liveCatalogBytes ?? 0, fromExport)
        walBytes = min(maxWalBytes, catalogBytes)
        need = UInt64(Double(catalogBytes + walBytes) * Self.margin)
    }

    /// nil when `free` is enough; else the line the importer fails with.
    public func refusal(free: UInt64, path: String) -> String? {
        guard free < need else { return nil }
        return "not enough disk for the import on \(path): it needs about \(Self.gigabytes(need)) "
            + "(the new catalog, ~\(Self.gigabytes(catalogBytes)), is built beside the one serving, and PostgreSQL keeps up to "
            + "\(Self.gigabytes(walBytes)) of WAL), and \(Self.gigabytes(free)) is free; nothing was changed"
    }

    /// Free bytes for an unprivileged writer on the file system holding `path`.
    public static func freeBytes(at path: String) -> UInt64? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return UInt64(s.f_bavail) * UInt64(s.f_frsize)
    }

    static func gigabytes(_ bytes: UInt64) -> String {
        if bytes < 950_000_000 { return "\((bytes + 500_000) / 1_000_000) MB" }
        let tenths = (bytes + 50_000_000) / 100_000_000
        return "\(tenths / 10).\(tenths % 10) GB"
    }
}
