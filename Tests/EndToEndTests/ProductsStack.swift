import CatalogImport
import Foundation
import Logging
import Postgres
import Synchronization
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The whole service for one end-to-end test: a database with a catalog imported by the
/// real importer, products-server (master + workers) on a private unix socket, and nginx
/// with the repository's config rendered by Deploy/host/render-nginx on a free port.
final class ProductsStack: @unchecked Sendable {
    enum Data {
        case atelierHead
        case legacy(LegacyFixture)
    }

    let name: String
    let directory: String
    let cluster: TestCluster
    let database: String
    let port: Int
    let dataDirectory: String
    private(set) var serverPID: pid_t = 0
    private(set) var nginxPID: pid_t = 0
    private(set) var generationPID: pid_t = 0

    /// Processes to stop when the test process exits (suites keep a stack in a static).
    /// (pid, signal that stops it at once with its children): nginx SIGTERM, the master SIGQUIT.
    private static let running = Mutex<[(pid_t, Int32)]>([])

    /// Starts everything; a failure to start is a test failure, reported with the logs.
    /// `serverArguments` are added to products-server's command line.
    static func launch(name: String, data: Data, cache: Bool, workers: Int = 2, serverArguments: [String] = [],
                       cluster: TestCluster = .shared) -> ProductsStack {
        do {
            return try ProductsStack(name: name, data: data, cache: cache, workers: workers,
                                     serverArguments: serverArguments, cluster: cluster)
        } catch {
            fatalError("cannot start the \(name) stack: \(error)")
        }
    }

    private init(name: String, data: Data, cache: Bool, workers: Int, serverArguments: [String], cluster: TestCluster) throws {
        self.name = name
        self.cluster = cluster
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("products-e2e-\(getpid())-\(name)").path
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)  // nginx's workers (www-data when root) reach the socket through it
        database = try cluster.makeDatabase(name)
        port = HTTP.freePort()

        dataDirectory = directory + "/data"
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        switch data {
        case .atelierHead:
            let source = Fixture.atelierHead
            for file in try FileManager.default.contentsOfDirectory(atPath: source) {
                try FileManager.default.copyItem(atPath: source + "/" + file, toPath: dataDirectory + "/" + file)
            }
        case .legacy(let fixture):
            try fixture.writeCSVs(to: dataDirectory)
        }
        try importData(dataDirectory)

        let socket = socketPath
        serverPID = try Subprocess.start([
            Repository.buildProducts + "/products-server", "--workers", String(workers), "--listen", socket,
            "--socket-mode", "0666", "--graceful-timeout", "5",
            "--database", cluster.conninfo(database: database, user: "products_api"),
        ] + (getuid() == 0 ? ["--user", "nobody"] : []) + serverArguments, logPath: directory + "/products-server.log")
        try waitFor("products-server socket") { FileManager.default.fileExists(atPath: socket) }

        let nginxDir = directory + "/nginx"
        // Without the cache: the documented switch for a whole environment (the bypass map's default).
        try TestCluster.run([
            Repository.path("Deploy/host/render-nginx"), nginxDir, "--local", "--upstream", "unix:" + socket,
            "--listen", "127.0.0.1:\(port)",
        ] + (cache ? [] : ["--cache-bypass-all"]))
        nginxPID = try Subprocess.start([
            "nginx", "-p", nginxDir + "/", "-e", nginxDir + "/logs/error.log", "-c", nginxDir + "/nginx.conf", "-g", "daemon off;",
        ], logPath: directory + "/nginx.log")
        Self.register([(nginxPID, SIGTERM), (serverPID, SIGQUIT)])
        try waitFor("nginx on port \(port)") { (try? HTTP.request(port: self.port, "GET", "/nope", timeout: 1)) != nil }
    }

    private static func register(_ pids: [(pid_t, Int32)]) {
        let first = running.withLock { list in
            list.append(contentsOf: pids)
            return list.count == pids.count
        }
        if first {
            atexit {
                let left = ProductsStack.running.withLock { $0 }
                for (pid, signal) in left { kill(pid, signal) }
                if !left.isEmpty { usleep(300_000) }
                // Suites that keep a stack in a static never call stop(): remove their files.
                let base = FileManager.default.temporaryDirectory.path
                for entry in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
                where entry.hasPrefix("products-e2e-\(getpid())-") {
                    try? FileManager.default.removeItem(atPath: base + "/" + entry)
                }
            }
        }
    }

    /// products-server's FastCGI socket (nginx's upstream).
    var socketPath: String { directory + "/fcgi.sock" }

    /// products-server's log so far (master and workers, stderr).
    func serverLog() -> String {
        (try? String(contentsOfFile: directory + "/products-server.log", encoding: .utf8)) ?? ""
    }

    /// nginx's error log so far.
    func nginxErrors() -> String {
        (try? String(contentsOfFile: directory + "/nginx/logs/error.log", encoding: .utf8)) ?? ""
    }

    /// Imports `directory` into this stack's database with the real importer.
    func importData(_ directory: String) throws {
        var options = ImportOptions(dataDirectory: directory, database: cluster.conninfo(database: database, user: "products_owner"))
        options.rejectsPath = self.directory + "/rejects.csv"
        var logger = Logger(label: "e2e-import")
        logger.logLevel = .warning
        _ = try Importer(options: options, logger: logger).run()
    }

    /// A copy of the data this stack was loaded from, to change and import again.
    func copyOfData() throws -> String {
        let copy = directory + "/data-\(UUID().uuidString.prefix(8))"
        try FileManager.default.copyItem(atPath: dataDirectory, toPath: copy)
        return copy
    }

    /// A copy of the data in which every style of product 1 is renamed "<name> v2": a new
    /// export whose import changes /products/1/styles and nothing else a test looks at.
    /// (Rows look like `1,1,"Forest Green & Black",null,140,1`; product 1's names have no commas.)
    func copyOfDataWithProductOneStylesRenamed() throws -> String {
        let copy = try copyOfData()
        let styles = try String(contentsOfFile: copy + "/styles.csv", encoding: .utf8)
        let renamed = styles.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var fields = line.split(separator: ",", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 4, fields[1] == "1", fields[2].hasSuffix("\"") else { return String(line) }
            fields[2] = String(fields[2].dropLast()) + " v2\""
            return fields.joined(separator: ",")
        }
        try renamed.joined(separator: "\n").write(toFile: copy + "/styles.csv", atomically: true, encoding: .utf8)
        return copy
    }

    /// The file products-cache-generation writes and nginx includes (render-nginx --local).
    var generationFile: String { directory + "/nginx/cache-generation/generation.conf" }

    /// Starts Deploy/host/products-cache-generation for this stack's nginx, as a host runs it:
    /// it asks /_health/ready every `interval` s and reloads nginx (SIGHUP) with each new
    /// generation. Returns once it has written the first one.
    func startCacheGeneration(interval: Double = 0.2) throws {
        generationPID = try Subprocess.start([
            Repository.path("Deploy/host/products-cache-generation"), "--url", "http://127.0.0.1:\(port)/_health/ready",
            "--dir", (generationFile as NSString).deletingLastPathComponent, "--interval", String(interval),
            "--reload", "kill -HUP \(nginxPID)",
        ], logPath: directory + "/cache-generation.log")
        // SIGKILL: it holds nothing, and a test process's children start with SIGTERM blocked
        // (the spawning thread's mask), which bash does not undo.
        Self.register([(generationPID, SIGKILL)])
        try waitFor("products-cache-generation's first generation") { cacheGeneration() != nil }
    }

    /// The generation nginx keys its cache with, as products-cache-generation wrote it.
    func cacheGeneration() -> String? {
        guard let text = try? String(contentsOfFile: generationFile, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("default \"") }) else { return nil }
        return String(line.dropFirst("default \"".count).prefix { $0 != "\"" })
    }

    /// The master's current worker processes.
    func workerPIDs() throws -> [pid_t] {
        let children = (try? String(contentsOfFile: "/proc/\(serverPID)/task/\(serverPID)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").compactMap { pid_t($0) }.sorted()
    }

    func stop() {
        let pids = [nginxPID, serverPID, generationPID]
        if generationPID > 0 { kill(generationPID, SIGKILL); Subprocess.wait(generationPID); generationPID = 0 }
        if nginxPID > 0 { kill(nginxPID, SIGQUIT); Subprocess.wait(nginxPID); nginxPID = 0 }
        if serverPID > 0 { kill(serverPID, SIGTERM); Subprocess.wait(serverPID); serverPID = 0 }
        Self.running.withLock { $0.removeAll { pids.contains($0.0) } }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }

    private func waitFor(_ what: String, seconds: Double = 20, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return }
            usleep(50_000)
        }
        let logs = ["products-server.log", "nginx.log", "nginx/logs/error.log", "cache-generation.log"].map { file in
            "--- \(file)\n" + ((try? String(contentsOfFile: directory + "/" + file, encoding: .utf8)) ?? "(none)")
        }.joined(separator: "\n")
        throw SpawnError(description: "timed out waiting for \(what)\n\(logs)")
    }
}
