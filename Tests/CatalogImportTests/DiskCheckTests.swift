import CatalogImport
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// --database-disk: room for the new catalog beside the serving one, checked before anything
/// changes (issue 24).
@Suite("Disk check")
struct DiskCheckTests {
    @Test func needIsTheLargerCatalogEstimatePlusWALWithAMargin() {
        // The full catalog's figures: a 4.89 GB export, a 3.5 GB catalog serving, max_wal_size 4 GB.
        let check = DiskCheck(liveCatalogBytes: 3_500_000_000, exportBytes: 4_890_000_000, maxWalBytes: 4 << 30)
        #expect(check.catalogBytes == 3_912_000_000)   // 0.8 × the export: more than the live one
        #expect(check.walBytes == 3_912_000_000)       // as much WAL, below max_wal_size
        #expect(check.need == 8_606_400_000)           // (3.912 GB + 3.912 GB) × 1.1
        #expect(check.refusal(free: check.need, path: "/x") == nil)
        #expect(check.refusal(free: 2_000_000_000, path: "/var/lib/postgresql") == "not enough disk for the import on /var/lib/postgresql: it needs about 8.6 GB (the new catalog, ~3.9 GB, is built beside the one serving, and PostgreSQL keeps up to 3.9 GB of WAL), and 2.0 GB is free; nothing was changed")
        // A larger catalog serving than the export suggests: its size counts.
        let large = DiskCheck(liveCatalogBytes: 9_000_000_000, exportBytes: 1_000, maxWalBytes: 4 << 30)
        #expect(large.catalogBytes == 9_000_000_000)
        #expect(large.walBytes == 4 << 30)             // max_wal_size bounds the WAL
    }

    @Test func anImportWithoutRoomOnTheDatabaseDiskRefusesAndChangesNothing() throws {
        let db = try CatalogDatabase("disk")
        let dir = try Fixtures.copy(Fixtures.atelierHead)
        try db.runImport(dir) { $0.databaseDisk = NSTemporaryDirectory() }   // room: it runs
        let before = try db.digest()
        let generation = try db.scalar("SELECT DISTINCT generation FROM catalog.product")
        // A file system with too little room: a 64 KB tmpfs (mounting one needs root).
        guard getuid() == 0 else { return }
        let small = NSTemporaryDirectory() + "products-disk-\(getpid())"
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        let mounted = "size=64k".withCString { mount("tmpfs", small, "tmpfs", 0, $0) } == 0
        #expect(mounted)
        defer { if mounted { umount(small) }; try? FileManager.default.removeItem(atPath: small) }
        let error = #expect(throws: ImportError.self) { try db.runImport(dir) { $0.databaseDisk = small } }
        #expect("\(error.map { "\($0)" } ?? "")".hasPrefix("not enough disk for the import on \(small): it needs about "))
        #expect(try db.digest() == before)
        #expect(try db.scalar("SELECT DISTINCT generation FROM catalog.product") == generation)
        #expect(try db.scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'catalog_import_%'") == "1")
    }
}
