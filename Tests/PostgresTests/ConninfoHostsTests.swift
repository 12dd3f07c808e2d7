import Postgres
import Testing
import TestSupport

@Suite("ConninfoHosts: a multi-host conninfo, and the next connection elsewhere")
struct ConninfoHostsTests {
    @Test func parsesHostAndPortListsWithLibpqsParser() throws {
        let hosts = try #require(ConninfoHosts(conninfo: "host=10.0.0.21,10.0.0.20 port=5432,5433 dbname=products target_session_attrs=prefer-standby"))
        #expect(hosts.entries == [
            .init(host: "10.0.0.21", hostaddr: "", port: "5432"),
            .init(host: "10.0.0.20", hostaddr: "", port: "5433"),
        ])
        // One port for every host, as libpq reads it.
        let shared = try #require(ConninfoHosts(conninfo: "postgresql://a,b:6000/products"))
        #expect(shared.entries.map(\.host) == ["a", "b"])
        #expect(ConninfoHosts(conninfo: "host=a port=5432 nonsense=1") == nil)
    }

    @Test func theAvoidedHostGoesLastAndAnyServerWillDo() throws {
        let hosts = ConninfoHosts(host: "r1,r2,p", hostaddr: "", port: "5432")
        #expect(hosts.overrides(avoiding: "r1", port: "5432") == [
            "host": "r2,p,r1", "port": "5432,5432,5432", "target_session_attrs": "any",
        ])
        #expect(hosts.overrides(avoiding: "p", port: "5432")?["host"] == "r1,r2,p")
        // hostaddr-only lists are matched by address (PQhost reports the address then).
        let byAddress = ConninfoHosts(host: "", hostaddr: "10.0.0.21,10.0.0.20", port: "")
        #expect(byAddress.overrides(avoiding: "10.0.0.21", port: "5432") == [
            "hostaddr": "10.0.0.20,10.0.0.21", "target_session_attrs": "any",
        ])
    }

    @Test func noElsewhereForOneHostOrAnUnknownOne() {
        #expect(ConninfoHosts(host: "/run/postgresql", hostaddr: "", port: "").overrides(avoiding: "/run/postgresql", port: "5432") == nil)
        #expect(ConninfoHosts(host: "a,b", hostaddr: "", port: "").overrides(avoiding: "c", port: "5432") == nil)
        // Same host on two ports: only the one that failed moves.
        #expect(ConninfoHosts(host: "a,a", hostaddr: "", port: "5432,5433").overrides(avoiding: "a", port: "5433")?["port"] == "5432,5433")
    }

    @Test func libpqConnectsToTheOtherHostWithTheOverrides() throws {
        let socket = TestCluster.shared.socketDirectory
        let conninfo = "host=\(socket),/nonexistent-products-test dbname=postgres user=\(TestCluster.shared.superuser)"
        let first = try Connection(conninfo: conninfo)
        #expect(first.host == socket)
        #expect(!first.isHotStandby)
        // Avoiding the live server puts the dead one first: libpq tries it, then comes back.
        let overrides = try #require(ConninfoHosts(conninfo: conninfo)?.overrides(avoiding: first.host, port: first.port))
        #expect(overrides["host"] == "/nonexistent-products-test,\(socket)")
        let second = try Connection(conninfo: conninfo, overrides: overrides)
        #expect(second.host == socket)
    }
}
