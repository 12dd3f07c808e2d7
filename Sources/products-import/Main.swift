import ArgumentParser
import CatalogImport
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

@main
struct ProductsImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "products-import",
        abstract: "Load the legacy CSV export into PostgreSQL and swap it in atomically.",
        discussion: """
            Reads product.csv, features.csv, styles.csv, skus.csv, photos.csv and related.csv
            from --data, repairs or rejects damaged rows (see docs/importer.md), loads them with
            COPY into a fresh staging schema, renders the API's documents there and then points
            the catalog.product view at the new data in one transaction. Until then the previous
            catalog keeps serving; a failed or killed import changes nothing visible, and its
            leftovers are dropped by the next run.

            Exit status: 0 on success; 1 when the import failed (a missing file, a wrong header,
            an unreachable database, too many rejects): one line on stderr says why.
            """
    )

    @Option(help: "Directory with the six CSV files.")
    var data: String

    @Option(help: "libpq connection string (key=value or postgresql:// URI) of the catalog owner role. Default: $PRODUCTS_IMPORT_DATABASE, else 'dbname=products'.")
    var database: String?

    @Option(help: "Where rejected rows are written (CSV: file,line,reason,raw).")
    var rejects: String = "rejects.csv"

    @Option(help: "Fail (keeping the previous catalog) when more rows than this are rejected. Default: no absolute limit.")
    var maxRejects: Int?

    @Option(help: "Fail when more than this fraction of all rows is rejected.")
    var maxRejectRate: Double = 0.01

    @Option(help: "Write the summary as JSON to this file.")
    var report: String?

    @Option(help: "Parallel COPY streams and build connections.")
    var jobs: Int = 2

    @Option(help: "Role the API connects as; granted SELECT on catalog.product. Empty: grant nothing.")
    var apiRole: String = "products_api"

    @Flag(help: "Keep the normalized staging tables after the build (for analysis).")
    var keepStaging = false

    @Option(help: ArgumentHelp("A path on the file system that holds the database (e.g. /var/lib/postgresql): refuse to start, changing nothing, when it has less free space than the import needs there (the new catalog beside the serving one: the size of the serving one or 0.8 × the export, whichever is larger; as much WAL, at most max_wal_size; × 1.1). Default: not checked.", valueName: "path"))
    var databaseDisk: String?

    @Option(help: ArgumentHelp("Do not touch the database: check the six files, write the rejects, and write the rows an import would load to this directory as PostgreSQL COPY text (<file>.copy).", valueName: "dir"))
    var cleanCopy: String?

    @Flag(inversion: .prefixedNo, help: "Show live progress lines (default: when stderr is a terminal).")
    var progress: Bool?

    mutating func run() throws {
        let showProgress = progress ?? (isatty(2) == 1)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "products-import")
        var options = ImportOptions(
            dataDirectory: data,
            database: database ?? ProcessInfo.processInfo.environment["PRODUCTS_IMPORT_DATABASE"] ?? "dbname=products")
        options.rejectsPath = rejects
        options.maxRejects = maxRejects
        options.maxRejectRate = maxRejectRate
        options.jobs = max(1, jobs)
        options.apiRole = apiRole.isEmpty ? nil : apiRole
        options.keepStaging = keepStaging
        options.databaseDisk = databaseDisk
        options.showProgress = showProgress

        if let cleanCopy {
            do {
                var checked = ImportReport()
                checked.files = try CleanCopy.run(options: options, into: cleanCopy)
                checked.status = "checked"
                print(checked.renderCheckTable(), terminator: "")
                if let path = report { try writeReport(checked, to: path) }
            } catch let error as ImportError {
                throw Self.failure(error)
            }
            return
        }

        let importer = Importer(options: options, logger: logger)
        Self.stopOnSignals(importer, logger: logger)
        do {
            let summary = try importer.run()
            print(summary.renderTable(), terminator: "")
            if let path = report { try writeReport(summary, to: path) }
        } catch let error as ImportError {
            if let path = report {
                var failed = ImportReport()
                failed.status = "failed"
                failed.error = error.description
                try? writeReport(failed, to: path)
            }
            throw Self.failure(error)
        }
    }

    /// Says why on stderr, in one line; exit status 1.
    private static func failure(_ error: ImportError) -> ExitCode {
        FileHandle.standardError.write(Data("products-import: \(error.description)\n".utf8))
        return ExitCode.failure
    }

    /// Ctrl-C or SIGTERM (systemctl stop products-import) stops the import cleanly: it stops
    /// at the next chunk of a file or the next build step (the longest step of a full catalog
    /// takes tens of seconds), drops its staging schema and leaves the live catalog as it was;
    /// the exit status is 1 ("import cancelled"). A second signal exits at once: the staging
    /// schema is then left for the next run to drop.
    ///
    /// The signals are blocked before any other thread exists (threads inherit the mask) and
    /// taken by one thread with sigwait: no async-signal-safety to worry about.
    private static func stopOnSignals(_ importer: Importer, logger: Logger) {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        let waitFor = signals
        let thread = Thread {
            var set = waitFor
            var received: Int32 = 0
            sigwait(&set, &received)
            logger.warning("\(received == SIGINT ? "SIGINT" : "SIGTERM") received: stopping; the staging schema is dropped, the live catalog stays as it is (again to stop at once)")
            importer.cancel()
            sigwait(&set, &received)
            logger.warning("second stop signal: exiting now; the next import drops the staging schema left behind")
            Glibc.exit(128 + received)
        }
        thread.start()
    }

    private func writeReport(_ report: ImportReport, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(to: URL(fileURLWithPath: path))
    }
}
