import Foundation
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Requests keep flowing while parts fail.
@Suite("Faults end to end", .serialized)
struct FaultsEndToEndTests {
    /// Sends GETs from one thread until stopped; counts statuses.
    final class Load: Sendable {
        let statuses = Mutex<[Int: Int]>([:])
        let running = Atomic<Bool>(true)
        let finished = DispatchSemaphore(value: 0)

        init(port: Int, target: String, check: @escaping @Sendable (HTTPResponse) -> Void = { _ in }) {
            let thread = Thread { [self] in
                while self.running.load(ordering: .relaxed) {
                    let status: Int
                    do {
                        let r = try HTTP.request(port: port, "GET", target, timeout: 5)
                        status = r.status
                        if status == 200 { check(r) }
                    } catch { status = -1 }
                    self.statuses.withLock { $0[status, default: 0] += 1 }
                }
                self.finished.signal()
            }
            thread.start()
        }

        func stop() -> [Int: Int] {
            running.store(false, ordering: .relaxed)
            finished.wait()
            return statuses.withLock { $0 }
        }
    }

    @Test func aKilledWorkerIsRespawnedAndOnlyItsRequestMayFail() throws {
        let stack = ProductsStack.launch(name: "kill", data: .atelierHead, cache: false, workers: 2)
        defer { stack.stop() }
        let before = try stack.workerPIDs()
        #expect(before.count == 2)
        let load = Load(port: stack.port, target: "/products/1/styles")
        usleep(300_000)
        kill(before[0], SIGKILL)
        // A new worker appears.
        var after: [Int32] = []
        for _ in 0..<50 {
            after = try stack.workerPIDs()
            if after.count == 2 && !after.contains(before[0]) { break }
            usleep(100_000)
        }
        usleep(300_000)
        let statuses = load.stop()
        #expect(after.count == 2 && !after.contains(before[0]), "workers \(before) → \(after)")
        let ok = statuses[200, default: 0]
        let failed = statuses.filter { $0.key != 200 }.values.reduce(0, +)
        #expect(ok > 50, "\(statuses)")
        #expect(failed <= 1, "only the request in flight may fail: \(statuses)")
        #expect(try HTTP.request(port: stack.port, "GET", "/products/1").status == 200)
    }

    /// nginx keeps up to 32 FastCGI connections per nginx worker (`keepalive 32`); one worker
    /// holds 16. With 40 clients at once nginx opens more connections than the worker has
    /// slots: the worker must close an idle kept one to take each new one, or the new ones wait
    /// in the backlog behind idle kept connections until nginx's 3 s read timeout (504).
    @Test func morePooledConnectionsThanWorkerSlotsAllGetAnswers() throws {
        let stack = ProductsStack.launch(name: "slots", data: .atelierHead, cache: false, workers: 1)
        defer { stack.stop() }
        let loads = (0..<40).map { _ in Load(port: stack.port, target: "/products/1/styles") }
        sleep(5)  // longer than fastcgi_read_timeout (3 s): a starved connection would show
        var statuses: [Int: Int] = [:]
        for load in loads { statuses.merge(load.stop(), uniquingKeysWith: +) }
        #expect(statuses.keys.allSatisfy { $0 == 200 }, "\(statuses)")
        #expect(statuses[200, default: 0] >= 200, "\(statuses)")
    }

    @Test func theServiceRecoversFromADatabaseRestartByItself() throws {
        let cluster = try TestCluster(name: "restart")
        let stack = ProductsStack.launch(name: "restart", data: .atelierHead, cache: false, cluster: cluster)
        defer { stack.stop() }
        #expect(try HTTP.request(port: stack.port, "GET", "/products/1").status == 200)

        try cluster.stop()
        // While the database is down: a JSON 503 at once, never a hang.
        let start = Date()
        let down = try HTTP.request(port: stack.port, "GET", "/products/2", timeout: 10)
        #expect(down.status == 503)
        #expect((try? down.json() as? [String: Any])?["message"] != nil)
        #expect(Date().timeIntervalSince(start) < 5)

        try cluster.start()
        var recovered = false
        for _ in 0..<50 {
            if (try? HTTP.request(port: stack.port, "GET", "/products/3"))?.status == 200 { recovered = true; break }
            usleep(200_000)
        }
        #expect(recovered)
        // Every worker reconnects within its reconnect throttle (250 ms: a worker whose last
        // attempt failed while the server was down waits that long before the next one);
        // after that, a burst of requests all succeed.
        usleep(500_000)
        for id in 1...20 {
            let r = try HTTP.request(port: stack.port, "GET", "/products/\(id % 10 + 1)/styles")
            #expect(r.status == 200, "\(r.status) \(r.text)")
        }
    }

    @Test func anImportWhileRequestsFlowServesWhollyOldOrWhollyNewData() throws {
        let stack = ProductsStack.launch(name: "swap", data: .atelierHead, cache: false)
        defer { stack.stop() }
        // The new export renames every style of product 1: "... v2".
        let newData = try stack.copyOfData()
        let styles = try String(contentsOfFile: newData + "/styles.csv", encoding: .utf8)
        // Rows look like `1,1,"Forest Green & Black",null,140,1`; product 1's names have no commas.
        let renamed = styles.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var fields = line.split(separator: ",", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 4, fields[1] == "1", fields[2].hasSuffix("\"") else { return String(line) }
            fields[2] = String(fields[2].dropLast()) + " v2\""
            return fields.joined(separator: ",")
        }
        try renamed.joined(separator: "\n").write(toFile: newData + "/styles.csv", atomically: true, encoding: .utf8)

        let mixed = Atomic<Int>(0), old = Atomic<Int>(0), new = Atomic<Int>(0)
        let load = Load(port: stack.port, target: "/products/1/styles") { r in
            guard let doc = try? r.json() as? [String: Any], let results = doc["results"] as? [[String: Any]] else {
                mixed.add(1, ordering: .relaxed); return
            }
            let names = results.compactMap { $0["name"] as? String }
            let v2 = names.filter { $0.hasSuffix(" v2") }.count
            if v2 == 0 { old.add(1, ordering: .relaxed) } else if v2 == names.count { new.add(1, ordering: .relaxed) } else { mixed.add(1, ordering: .relaxed) }
        }
        usleep(200_000)
        try stack.importData(newData)
        usleep(300_000)
        let statuses = load.stop()
        #expect(statuses.keys.allSatisfy { $0 == 200 }, "\(statuses)")
        #expect(mixed.load(ordering: .relaxed) == 0)
        #expect(old.load(ordering: .relaxed) > 0)
        #expect(new.load(ordering: .relaxed) > 0)
    }

    @Test func aRepeatedGETIsACacheHit() throws {
        let stack = ProductsStack.launch(name: "cache", data: .atelierHead, cache: true)
        defer { stack.stop() }
        let first = try HTTP.request(port: stack.port, "GET", "/products/1/styles")
        #expect(first.status == 200)
        #expect(first[header: "x-cache-status"] != nil)
        let second = try HTTP.request(port: stack.port, "GET", "/products/1/styles")
        #expect(second[header: "x-cache-status"] == "HIT")
        #expect(second.body == first.body)
    }
}
