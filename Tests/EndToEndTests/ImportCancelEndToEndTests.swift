import Foundation
import Postgres
import Testing
import TestSupport

/// Ctrl-C (SIGINT) on a running products-import, the real binary: it stops, drops its staging
/// schema, and the catalog the API serves is the one it served before.
@Suite("Import stopped by a signal")
struct ImportCancelEndToEndTests {
    @Test func sigintStopsCleanlyAndTheLiveCatalogStays() throws {
        let cluster = TestCluster.shared
        let stack = ProductsStack.launch(name: "import-cancel", data: .atelierHead, cache: false, workers: 1, cluster: cluster)
        defer { stack.stop() }
        let etagBefore = try #require(try HTTP.request(port: stack.port, "GET", "/products/1")[header: "etag"])

        // An export large enough (about 50,000 products) to be still importing when the signal
        // comes: the signal is sent once the first file is loaded, with the build still ahead.
        let data = stack.directory + "/export"
        let generated = try Subprocess.run([Repository.buildProducts + "/products-datagen", "--out", data, "--scale", "0.05", "--seed", "7"])
        try #require(generated.status == 0, "products-datagen: \(generated.stderr)")
        let log = stack.directory + "/import.log"
        let pid = try Subprocess.start([
            Repository.buildProducts + "/products-import", "--data", data, "--no-progress", "--rejects", stack.directory + "/rejects.csv",
            "--database", cluster.conninfo(database: stack.database, user: "products_owner"),
        ], logPath: log)
        var loading = false
        for _ in 0..<600 where !loading {  // up to 30 s
            usleep(50_000)
            loading = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("] loaded ")
        }
        try #require(loading, "the import never loaded a file: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        kill(pid, SIGINT)
        let status = Subprocess.wait(pid)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(status == 1, "exit status \(status): \(text)")
        #expect(text.contains("SIGINT received: stopping"), "\(text)")
        #expect(text.contains("import cancelled"), "\(text)")
        #expect(!text.contains("swapped"), "\(text)")

        // The staging schema is gone: the only import schema left is the live one.
        let connection = try Connection(conninfo: cluster.conninfo(database: stack.database))
        let schemas = try connection.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'catalog\\_import\\_%'")
        #expect(schemas.string(row: 0, column: 0) == "1")
        // And the API serves the same catalog as before.
        #expect(try HTTP.request(port: stack.port, "GET", "/products/1")[header: "etag"] == etagBefore)
    }
}
