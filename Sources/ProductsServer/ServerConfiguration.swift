#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A configuration value that cannot be used; `description` is the message for the operator.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Where the master listens for nginx's FastCGI connections.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// A unix socket path: the deployment default (private to nginx's group).
    case unix(path: String)
    /// `host:port`. libfcgi's FastCGI parser must never face a public interface
    /// (CVE-2025-23016 is only partly fixed in Debian 12): loopback or a private network only.
    case tcp(host: String, port: UInt16)
    /// The one listening socket systemd passes (socket activation: `LISTEN_FDS=1`, fd 3).
    /// The `.socket` unit owns it, with its path or port, mode, group and `IPAddressAllow=`:
    /// it outlives restarts of the service, so connections wait in its backlog while the
    /// server restarts (an upgrade) instead of being refused.
    case systemd

    /// `unix:/run/products/fcgi.sock`, `/run/products/fcgi.sock` (anything with a `/`),
    /// `127.0.0.1:9000`, `[::1]:9000`, `localhost:9000`, `systemd`.
    public init(parsing text: String) throws(ConfigurationError) {
        if text == "systemd" {
            self = .systemd
            return
        }
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard !path.isEmpty else { throw ConfigurationError("--listen unix: needs a path, e.g. unix:/run/products/fcgi.sock") }
            try self.init(unixPath: path)
            return
        }
        if text.contains("/") {
            try self.init(unixPath: text)
            return
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ConfigurationError("--listen \(text): expected [ipv6]:port")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ConfigurationError("--listen \(text): expected a unix socket path (containing '/') or host:port")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else {
                throw ConfigurationError("--listen \(text): write IPv6 addresses in brackets, e.g. [::1]:9000")
            }
        }
        guard !host.isEmpty else {
            throw ConfigurationError("--listen \(text): name the host to bind, e.g. 127.0.0.1\(text); never a public interface")
        }
        guard let port = UInt16(portText), port > 0 else {
            throw ConfigurationError("--listen \(text): port must be 1-65535")
        }
        self = .tcp(host: String(host), port: port)
    }

    private init(unixPath path: String) throws(ConfigurationError) {
        // sockaddr_un.sun_path is 108 bytes including the terminating NUL on Linux.
        guard path.utf8.count < 108 else {
            throw ConfigurationError("--listen \(path): unix socket paths are limited to 107 bytes")
        }
        self = .unix(path: path)
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .systemd: "systemd"
        }
    }
}

/// Everything the master needs, validated. The executable builds it from its flags.
public struct ServerConfiguration: Sendable {
    public var workers: Int
    public var listen: ListenAddress
    /// Permissions of the unix socket file (nginx's group needs read+write: 0660).
    public var socketMode: mode_t
    /// Group to own the unix socket file (nginx's group, e.g. `www-data`); nil keeps ours.
    public var socketGroup: String?
    public var gracefulTimeout: Duration
    public var pidFile: String?
    /// `listen(2)` backlog; the kernel caps it at `net.core.somaxconn` (4096 on Debian 12).
    /// 4096, the systemd .socket unit's Backlog= and the kernel's cap: nginx keeps the FastCGI
    /// connections it opens (nginx/conf.d/products.conf, `keepalive`), so new ones come in
    /// bursts only (a start, a load spike opening the pool); on TCP (an app host) a full
    /// backlog drops SYNs, which the client resends only after a second.
    public var backlog: Int32
    /// What a worker is started with: the master re-executes `/proc/self/exe` with these
    /// arguments (the CLI's `--worker` flag and friends) ...
    public var workerArguments: [String]
    /// ... and its own environment plus these variables (secrets such as the database conninfo
    /// go here, never in argv, which every local user can read in `ps`).
    public var workerEnvironment: [String: String]
    /// The user the master switches to once the socket is bound, before any worker starts
    /// (`--user`); nil: it keeps running as it was started (never root, see ``Privileges``).
    public var runAs: Privileges.Account?
    /// Count requests in a shared ``Scoreboard`` and answer `/_status` (`--no-status` turns it
    /// off, to measure what it costs).
    public var scoreboard: Bool
    /// The rest of the process-control policy (``Supervisor/Configuration``): how long a reload's
    /// new workers must stay up, how long a SIGKILLed worker may take to be reaped, and the
    /// crash-loop backoff. nil: the supervisor's defaults.
    public var reloadWarmup: Duration?
    public var killTimeout: Duration?
    public var backoff: Supervisor.Backoff?

    public init(workers: Int, listen: ListenAddress, socketMode: mode_t = 0o660, socketGroup: String? = nil,
                gracefulTimeout: Duration = .seconds(10), pidFile: String? = nil, backlog: Int32 = 4096,
                workerArguments: [String], workerEnvironment: [String: String] = [:], runAs: Privileges.Account? = nil,
                scoreboard: Bool = true) {
        self.workers = workers
        self.listen = listen
        self.socketMode = socketMode
        self.socketGroup = socketGroup
        self.gracefulTimeout = gracefulTimeout
        self.pidFile = pidFile
        self.backlog = backlog
        self.workerArguments = workerArguments
        self.workerEnvironment = workerEnvironment
        self.runAs = runAs
        self.scoreboard = scoreboard
    }

    /// The process-control policy for this configuration.
    public var supervisor: Supervisor.Configuration {
        var configuration = Supervisor.Configuration(workers: workers, gracefulTimeout: gracefulTimeout, backoff: backoff)
        if let reloadWarmup { configuration.reloadWarmup = reloadWarmup }
        if let killTimeout { configuration.killTimeout = killTimeout }
        return configuration
    }

    /// Workers per online CPU by default. A worker handles one request at a time and spends much
    /// of it waiting (on PostgreSQL's reply, on nginx reading the response), so more workers than
    /// cores keep the cores busy; but each worker is also a PostgreSQL backend, and nginx and
    /// PostgreSQL share these cores, so the multiplier stays small. Every worker also bounds the
    /// nginx upstream concurrency (docs/architecture.md, "Lessons that shaped the code": kept connections).
    public static let workersPerCPU = 4

    /// `workersPerCPU` × the CPUs this process may use (at least 1).
    public static func defaultWorkerCount(onlineCPUs: Int = ServerConfiguration.usableCPUs()) -> Int {
        max(1, onlineCPUs) * workersPerCPU
    }

    /// Online CPUs, narrowed by the CPU affinity mask (`taskset`, systemd `CPUAffinity=`) and by
    /// a cgroup v2 CPU quota (containers, systemd `CPUQuota=`): a 2-CPU container on a 64-core
    /// host must not start 256 workers.
    public static func usableCPUs() -> Int {
        var cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        if let status = readSmallFile("/proc/self/status"),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }),
           let allowed = countCPUList(String(line.dropFirst("Cpus_allowed_list:".count))) {
            cpus = min(cpus, allowed)
        }
        // "0::/system.slice/products-server.service": the quota may sit on any ancestor.
        if let cgroup = readSmallFile("/proc/self/cgroup")?.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) {
            var path = String(cgroup.dropFirst(3))
            while true {
                if let max = readSmallFile("/sys/fs/cgroup\(path == "/" ? "" : path)/cpu.max"), let quota = cpuQuota(max) {
                    cpus = min(cpus, quota)
                }
                guard path != "/", let slash = path.lastIndex(of: "/") else { break }
                path = slash == path.startIndex ? "/" : String(path[..<slash])
            }
        }
        return max(1, cpus)
    }

    /// `"0-3,8"` → 5 (the kernel's CPU list format).
    public static func countCPUList(_ text: String) -> Int? {
        var count = 0
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0.trimmingPrefix(while: \.isWhitespace).prefix { !$0.isWhitespace }) }
            switch bounds.count {
            case 1: guard bounds[0] != nil else { return nil }; count += 1
            case 2: guard let low = bounds[0], let high = bounds[1], high >= low else { return nil }; count += high - low + 1
            default: return nil
            }
        }
        return count > 0 ? count : nil
    }

    /// cgroup v2 `cpu.max`: `"200000 100000"` → 2 CPUs (rounded up); `"max 100000"` → nil.
    public static func cpuQuota(_ text: String) -> Int? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, let quota = Int(fields[0]), let period = Int(fields[1]), quota > 0, period > 0 else { return nil }
        return (quota + period - 1) / period
    }

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }

    /// `"0660"` → `0o660`. Octal, permission bits only.
    public static func parseSocketMode(_ text: String) throws(ConfigurationError) -> mode_t {
        guard !text.isEmpty, let mode = mode_t(text, radix: 8), mode <= 0o777 else {
            throw ConfigurationError("--socket-mode \(text): expected octal permissions such as 0660")
        }
        return mode
    }
}
