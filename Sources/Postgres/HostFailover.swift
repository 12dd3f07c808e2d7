import CLibPQ

/// The hosts of a multi-host conninfo (`host=replica1,primary port=5432`) and how to make the
/// next connection go to another one of them.
///
/// libpq 15 (Debian 12's) walks the host list in order and picks by `target_session_attrs`
/// (`prefer-standby`: the first standby that answers, else the first host that answers); it
/// has no `load_balance_hosts` (libpq 16). A query a standby cancelled — a recovery conflict,
/// SQLSTATE 40001, when replay had to apply something the query's snapshot still needed — is
/// worth one retry elsewhere: ``overrides(avoiding:port:)`` gives the connection parameters
/// that put the host that cancelled it last and accept any server (`target_session_attrs=any`,
/// else `prefer-standby` would pick the same standby again). With a single host there is no
/// elsewhere: nil, and the caller reconnects to the same server.
public struct ConninfoHosts: Sendable, Equatable {
    /// One entry of the host list: `host`, `hostaddr` (either may be empty) and `port`.
    public struct Entry: Sendable, Equatable {
        public var host: String
        public var hostaddr: String
        public var port: String

        public init(host: String, hostaddr: String, port: String) {
            self.host = host
            self.hostaddr = hostaddr
            self.port = port
        }
    }

    public let entries: [Entry]

    /// Parses `conninfo` with libpq's own parser (`PQconninfoParse`); nil if libpq rejects it.
    public init?(conninfo: String) {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            if let error { PQfreemem(error) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        self.init(host: values["host"] ?? "", hostaddr: values["hostaddr"] ?? "", port: values["port"] ?? "")
    }

    /// The lists as libpq takes them: comma-separated, a single port applying to every host.
    public init(host: String, hostaddr: String, port: String) {
        func split(_ list: String) -> [String] { list.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let hosts = split(host), addresses = split(hostaddr), ports = split(port)
        let count = max(host.isEmpty ? 0 : hosts.count, hostaddr.isEmpty ? 0 : addresses.count)
        func item(_ list: [String], _ index: Int) -> String {
            list.count == 1 ? list[0] : (index < list.count ? list[index] : "")
        }
        entries = (0..<count).map { index in
            Entry(host: host.isEmpty ? "" : item(hosts, index),
                  hostaddr: hostaddr.isEmpty ? "" : item(addresses, index),
                  port: port.isEmpty ? "" : item(ports, index))
        }
    }

    /// Connection parameters (on top of the conninfo) that try every other host first, in
    /// their order, and the one a connection reported as `host`/`port` (`PQhost`, `PQport`:
    /// the host name, or the address when only `hostaddr` was given) last. Nil when the list
    /// has fewer than two hosts or none of them is `host:port`.
    public func overrides(avoiding host: String, port: String) -> [String: String]? {
        guard entries.count > 1 else { return nil }
        func matches(_ entry: Entry) -> Bool {
            (entry.host == host || (entry.host.isEmpty && entry.hostaddr == host))
                && (entry.port.isEmpty || port.isEmpty || entry.port == port)
        }
        let avoided = entries.filter(matches)
        guard !avoided.isEmpty, avoided.count < entries.count else { return nil }
        let ordered = entries.filter { !matches($0) } + avoided
        var result = ["target_session_attrs": "any"]
        if entries.contains(where: { !$0.host.isEmpty }) { result["host"] = ordered.map(\.host).joined(separator: ",") }
        if entries.contains(where: { !$0.hostaddr.isEmpty }) { result["hostaddr"] = ordered.map(\.hostaddr).joined(separator: ",") }
        if entries.contains(where: { !$0.port.isEmpty }) { result["port"] = ordered.map(\.port).joined(separator: ",") }
        return result
    }
}
