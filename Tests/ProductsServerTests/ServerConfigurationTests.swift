import SystemCalls
import Testing
import ProductsServer

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ListenAddressTests {
    @Test(arguments: [
        ("/run/products/fcgi.sock", ListenAddress.unix(path: "/run/products/fcgi.sock")),
        ("unix:/run/products/fcgi.sock", .unix(path: "/run/products/fcgi.sock")),
        ("./fcgi.sock", .unix(path: "./fcgi.sock")),
        ("127.0.0.1:9000", .tcp(host: "127.0.0.1", port: 9000)),
        ("localhost:9000", .tcp(host: "localhost", port: 9000)),
        ("[::1]:9000", .tcp(host: "::1", port: 9000)),
        ("systemd", .systemd),
    ])
    func parses(text: String, expected: ListenAddress) throws {
        #expect(try ListenAddress(parsing: text) == expected)
    }

    @Test(arguments: [
        ":9000",              // no host: would bind every interface
        "fcgi.sock",          // neither a path nor host:port
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:http",
        "::1:9000",           // IPv6 needs brackets
        "unix:",
        "/" + String(repeating: "x", count: 110),
    ])
    func rejects(text: String) {
        #expect(throws: ConfigurationError.self) { try ListenAddress(parsing: text) }
    }

    @Test func describesItselfTheWayItIsWritten() {
        #expect(ListenAddress.tcp(host: "::1", port: 9000).description == "[::1]:9000")
        #expect(ListenAddress.unix(path: "/a/b").description == "unix:/a/b")
    }
}

@Suite struct ServerConfigurationTests {
    @Test func socketModeIsOctal() throws {
        #expect(try ServerConfiguration.parseSocketMode("0660") == 0o660)
        #expect(try ServerConfiguration.parseSocketMode("600") == 0o600)
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.parseSocketMode("0999") }
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.parseSocketMode("4777") }
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.parseSocketMode("") }
    }

    @Test func defaultWorkersAreFourPerCPU() {
        #expect(ServerConfiguration.defaultWorkerCount(onlineCPUs: 2) == 8)
        #expect(ServerConfiguration.defaultWorkerCount(onlineCPUs: 0) == 4)
        #expect(ServerConfiguration.defaultWorkerCount() >= 4)
    }

    @Test func usableCPUsHonourAffinityListsAndCgroupQuotas() {
        #expect(ServerConfiguration.countCPUList("0-3,8") == 5)
        #expect(ServerConfiguration.countCPUList("\t0-1\n") == 2)
        #expect(ServerConfiguration.countCPUList("0") == 1)
        #expect(ServerConfiguration.countCPUList("3-1") == nil)
        #expect(ServerConfiguration.cpuQuota("200000 100000\n") == 2)
        #expect(ServerConfiguration.cpuQuota("150000 100000") == 2)
        #expect(ServerConfiguration.cpuQuota("max 100000") == nil)
        let usable = ServerConfiguration.usableCPUs()
        #expect(usable >= 1 && usable <= Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    @Test func supervisorPolicyFollowsTheConfiguration() {
        let configuration = ServerConfiguration(workers: 6, listen: .unix(path: "/tmp/x.sock"),
                                                gracefulTimeout: .seconds(3), workerArguments: ["--worker"])
        #expect(configuration.supervisor.workers == 6)
        #expect(configuration.supervisor.gracefulTimeout == .seconds(3))
        #expect(configuration.supervisor.stopSignal == SIGTERM)
        #expect(configuration.supervisor.backoff.tolerated == 6)
    }
}

@Suite struct SignalPolicyTests {
    @Test func mapsSignalsToCommands() {
        let policy = SignalPolicy()
        #expect(policy.command(for: SIGTERM) == .terminate)
        #expect(policy.command(for: SIGINT) == .terminate)
        #expect(policy.command(for: SIGQUIT) == .quit)
        #expect(policy.command(for: SIGHUP) == .reload)
        #expect(policy.command(for: SIGCHLD) == nil)
        #expect(policy.caught.contains(SIGCHLD))
        #expect(signalName(SIGHUP) == "SIGHUP")
    }
}

@Suite struct SyscallTests {
    @Test func errnoBecomesAThrownError() {
        #expect(throws: SyscallError(function: "close", errno: EBADF)) {
            try syscall("close") { close(-1) }
        }
    }

    @Test func eintrIsRetried() throws {
        var calls = 0
        let result = try syscall("flaky") { () -> Int32 in
            calls += 1
            if calls < 3 { errno = EINTR; return -1 }
            return 42
        }
        #expect(result == 42)
        #expect(calls == 3)
    }

    @Test func errorNumberResultsAreChecked() {
        #expect(throws: SyscallError(function: "spawnish", errno: EAGAIN)) {
            try syscallReturningError("spawnish") { EAGAIN }
        }
    }
}

@Suite struct PrivilegesTests {
    let nobody = Privileges.Account(name: "nobody", uid: 65534, gid: 65534)

    @Test func rootMustNameAnUnprivilegedUser() throws {
        #expect(throws: ConfigurationError("refusing to run as root; pass --user NAME")) {
            try Privileges.plan(euid: 0, egid: 0, requested: nil)
        }
        #expect(throws: ConfigurationError.self) {
            try Privileges.plan(euid: 0, egid: 0, requested: Privileges.Account(name: "root", uid: 0, gid: 0))
        }
        #expect(try Privileges.plan(euid: 0, egid: 0, requested: nobody) == nobody)
    }

    @Test func anyoneElseMayOnlyNameThemselves() throws {
        #expect(try Privileges.plan(euid: 1000, egid: 1000, requested: nil) == nil)
        let me = Privileges.Account(name: "me", uid: 1000, gid: 1000)
        #expect(try Privileges.plan(euid: 1000, egid: 1000, requested: me) == nil, "nothing to switch")
        #expect(throws: ConfigurationError.self) { try Privileges.plan(euid: 1000, egid: 1000, requested: nobody) }
        let otherGroup = Privileges.Account(name: "me", uid: 1000, gid: 0)
        #expect(throws: ConfigurationError.self) { try Privileges.plan(euid: 1000, egid: 1000, requested: otherGroup) }
    }

    @Test func namesAreLookedUp() throws {
        let account = try Privileges.account(user: "nobody", group: "root")
        #expect(account.name == "nobody" && account.uid == getpwnam("nobody")?.pointee.pw_uid && account.gid == 0)
        #expect(throws: ConfigurationError("--user no-such-user-here: no such user")) {
            try Privileges.account(user: "no-such-user-here", group: nil)
        }
        #expect(throws: ConfigurationError("--group no-such-group-here: no such group")) {
            try Privileges.account(user: "nobody", group: "no-such-group-here")
        }
    }
}
