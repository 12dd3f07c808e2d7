import CatalogImport
import Foundation
import Logging
import Postgres
import TestSupport

/// One test's database, with the catalog read back as the API would see it.
struct CatalogDatabase {
    let name: String
    var ownerConninfo: String { TestCluster.shared.conninfo(database: name, user: "products_owner") }
    var apiConninfo: String { TestCluster.shared.conninfo(database: name, user: "products_api") }

    init(_ hint: String) throws { name = try TestCluster.shared.makeDatabase(hint) }

    func importer(_ dir: String, configure: (inout ImportOptions) -> Void = { _ in }) -> Importer {
        var options = ImportOptions(dataDirectory: dir, database: ownerConninfo)
        options.rejectsPath = dir + "/rejects.csv"
        configure(&options)
        var logger = Logger(label: "test-import")
        logger.logLevel = .warning
        return Importer(options: options, logger: logger)
    }

    @discardableResult
    func runImport(_ dir: String, configure: (inout ImportOptions) -> Void = { _ in }) throws -> ImportReport {
        try importer(dir, configure: configure).run()
    }

    /// Reads one document column for a product, as the API role.
    func doc(_ column: String, _ id: Int) throws -> Any? {
        let c = try Connection(conninfo: apiConninfo)
        let r = try c.execute("SELECT \(column) FROM catalog.product WHERE id = $1", [String(id)])
        guard r.rowCount == 1, let text = r.string(row: 0, column: 0) else { return nil }
        return try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    /// A digest of the whole served catalog: equal digests, equal data.
    func digest() throws -> String {
        let c = try Connection(conninfo: apiConninfo)
        let r = try c.execute("""
            SELECT count(*)::text || ':' || md5(string_agg(id || '|' || rank || '|' || list_doc || product_doc || styles_doc || related_doc, E'\\n' ORDER BY id))
            FROM catalog.product
            """)
        return r.string(row: 0, column: 0) ?? ""
    }

    func scalar(_ sql: String) throws -> String? {
        let c = try Connection(conninfo: ownerConninfo)
        return try c.execute(sql).string(row: 0, column: 0)
    }
}

enum Fixtures {
    static var atelierHead: String {
        Fixture.atelierHead
    }

    /// Copies a fixture directory into a fresh temp dir (tests may damage or add files).
    static func copy(_ source: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("import-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source) where name.hasSuffix(".csv") {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: dir + "/" + name)
        }
        return dir
    }
}

extension Dictionary where Key == String, Value == Any {
    subscript(path path: String...) -> Any? {
        var current: Any? = self
        for key in path {
            if let i = Int(key), let array = current as? [Any] { current = i < array.count ? array[i] : nil }
            else { current = (current as? [String: Any])?[key] }
        }
        return current
    }
}
