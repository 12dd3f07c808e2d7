/// What `products-import` was asked to do.
public struct ImportOptions: Sendable {
    /// Directory holding the six CSV files.
    public var dataDirectory: String
    /// libpq conninfo of the catalog owner.
    public var database: String
    /// Where rejected rows go (CSV: file,line,reason,raw). nil: `<data>/rejects.csv`
    /// would surprise people with a read-only data dir, so the default is `./rejects.csv`.
    public var rejectsPath: String = "rejects.csv"
    /// Fail the import (old catalog keeps serving) when more rows than this are rejected.
    public var maxRejects: Int? = nil
    /// Fail when more than this fraction of all rows read is rejected (a guard against an
    /// export that parses but is garbage, e.g. shifted columns).
    public var maxRejectRate: Double = 0.01
    /// Parallel COPY streams (and build connections).
    public var jobs: Int = 2
    /// The role the API connects as; granted SELECT on the catalog view.
    public var apiRole: String? = "products_api"
    /// Keep the normalized staging tables after the build (for analysis; costs disk).
    public var keepStaging: Bool = false
    /// Show live progress lines (normally: stderr is a terminal).
    public var showProgress: Bool = false
    /// A path on the file system that holds the database (PostgreSQL's data directory or a
    /// parent): the import refuses to start without room for it there (``DiskCheck``). nil:
    /// not checked (the database is on another host, or the operator knows).
    public var databaseDisk: String? = nil

    public init(dataDirectory: String, database: String) {
        self.dataDirectory = dataDirectory
        self.database = database
    }
}

/// Why an import failed. One clear line each (`description`); the old catalog is untouched.
public enum ImportError: Error, CustomStringConvertible {
    case input(String)
    case database(String)
    case tooManyRejects(rejected: Int, limit: String)
    case emptyCatalog
    case alreadyRunning
    case cancelled

    public var description: String {
        switch self {
        case .input(let m): return m
        case .database(let m): return m
        case .tooManyRejects(let n, let limit): return "too many rejected rows: \(n) (limit \(limit)); the previous catalog is still serving"
        case .emptyCatalog: return "the new catalog would have no products; refusing to swap it in"
        case .alreadyRunning: return "another import is running on this database"
        case .cancelled: return "import cancelled"
        }
    }
}
