import Foundation
import Postgres
import Synchronization

/// A throwaway PostgreSQL cluster for the integration tests: `initdb` into a temp dir,
/// unix socket only, started once per test process and stopped when it exits.
/// Each test gets a database of its own (`makeDatabase`), so tests run in parallel.
///
/// The cluster is driven by Deploy/local/pgcluster, the same script the local stack
/// uses (it also deals with running as root).
public final class TestCluster: Sendable {
    public let directory: String
    public let socketDirectory: String
    public let superuser: String

    /// The cluster most tests share, started on first use.
    public static let shared: TestCluster = {
        do { return try TestCluster(name: "shared") } catch { fatalError("cannot start the test PostgreSQL cluster: \(error)") }
    }()

    /// Clusters started by this process, stopped at exit.
    private static let started = Mutex<[String]>([])

    /// Starts a cluster of its own (for tests that stop or restart the server).
    public init(name: String) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("products-test-pg-\(getpid())-\(name)").path
        try? FileManager.default.removeItem(atPath: base)
        directory = base
        socketDirectory = base + "/run"
        superuser = getuid() == 0 ? "postgres" : NSUserName()
        // As root, the end-to-end tests run products-server as `nobody` (--user): peer
        // authentication lets that user in as products_api only.
        try Self.run([Repository.path("Deploy/local/pgcluster"), "init", base] + (getuid() == 0 ? ["--peer", "nobody=products_api"] : []))
        try Self.pgcluster("start", base)
        let first = Self.started.withLock { list in
            list.append(base)
            return list.count == 1
        }
        if first {
            atexit {
                for dir in TestCluster.started.withLock({ $0 }) {
                    _ = try? TestCluster.run([Repository.path("Deploy/local/pgcluster"), "stop", dir, "immediate"])
                    try? FileManager.default.removeItem(atPath: dir)
                }
            }
        }
        try psqlFile(Repository.path("Deploy/sql/roles.sql"))
    }

    /// A conninfo for `database` as `user` (default: the superuser).
    public func conninfo(database: String = "postgres", user: String? = nil) -> String {
        "host=\(socketDirectory) dbname=\(database) user=\(user ?? superuser)"
    }

    /// Creates an empty database owned by products_owner, with the privileges of a catalog
    /// database (Deploy/sql/database.sql: products_api may only connect), and returns its name.
    public func makeDatabase(_ hint: String = "t") throws -> String {
        let name = "\(hint.lowercased().filter { $0.isLetter || $0.isNumber })_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try Connection(conninfo: conninfo())
        try admin.execute("CREATE DATABASE \(name) OWNER products_owner")
        try psqlFile(Repository.path("Deploy/sql/database.sql"), database: name)
        return name
    }

    public func psqlFile(_ path: String, database: String = "postgres") throws {
        try Self.pgcluster("psql", directory, "-d", database, "-f", path)
    }

    /// Stops and starts the server (for the "database restarted" tests).
    public func restart(downFor seconds: Double = 0) throws {
        try Self.pgcluster("stop", directory, "fast")
        if seconds > 0 { usleep(UInt32(seconds * 1e6)) }
        try Self.pgcluster("start", directory)
    }

    public func stop() throws { try Self.pgcluster("stop", directory, "fast") }
    public func start() throws { try Self.pgcluster("start", directory) }

    @discardableResult
    static func pgcluster(_ args: String...) throws -> String {
        try run([Repository.path("Deploy/local/pgcluster")] + args)
    }

    /// Runs a command, returns its stdout; throws with its stderr on a non-zero exit.
    @discardableResult
    public static func run(_ argv: [String], environment: [String: String]? = nil) throws -> String {
        let result = try Subprocess.run(argv, environment: environment)
        guard result.status == 0 else {
            throw CommandFailed(command: argv.joined(separator: " "), status: result.status, stderr: result.stderr)
        }
        return result.stdout
    }
}

public struct CommandFailed: Error, CustomStringConvertible {
    public let command: String
    public let status: Int32
    public let stderr: String
    public var description: String { "`\(command)` exited \(status): \(stderr)" }
}

/// Paths inside this repository, found from this source file's location.
public enum Repository {
    public static var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
    public static func path(_ relative: String) -> String { root + "/" + relative }

    /// The directory with the built executables (the one the test bundle was built into).
    public static var buildProducts: String {
        // The xctest bundle lives in the build products directory (e.g. .build/debug).
        let bundle = Bundle.main.bundleURL
        var dir = bundle
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("products-server").path) { return dir.path }
            dir = dir.deletingLastPathComponent()
        }
        for candidate in [Bundle.main.executableURL?.deletingLastPathComponent()].compactMap({ $0 }) {
            if FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("products-server").path) { return candidate.path }
        }
        return root + "/.build/debug"
    }
}

/// Sample data shipped with the tests (copied from the project's shared samples, so the
/// repository passes its tests on its own).
public enum Fixture {
    /// The real first rows of the six legacy CSV files (products 1–20).
    public static var atelierHead: String {
        Bundle.module.url(forResource: "Fixtures/atelier-head", withExtension: nil)!.path
    }

    /// Five real responses (product + styles) captured from the legacy service.
    public static var legacyResponses: URL {
        Bundle.module.url(forResource: "Fixtures/legacy-api-responses", withExtension: "json")!
    }
}
