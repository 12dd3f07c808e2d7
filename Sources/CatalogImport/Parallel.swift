import Foundation
import Synchronization

/// Runs blocking jobs (libpq calls, file reads) on `width` real threads, not on Swift
/// concurrency's cooperative pool, which blocking calls would starve on a 2-core machine.
/// Jobs are taken in order; the first error stops handing out new jobs and is rethrown.
func runOnThreads(width: Int, _ jobs: [@Sendable () throws -> Void]) throws {
    struct Shared {
        var next = 0
        var firstError: (any Error)?
    }
    let shared = Mutex(Shared())
    let done = DispatchGroup()
    let jobsCopy = jobs
    for _ in 0..<max(1, min(width, jobs.count)) {
        done.enter()
        let thread = Thread {
            defer { done.leave() }
            while true {
                let index: Int? = shared.withLock { s in
                    guard s.firstError == nil, s.next < jobsCopy.count else { return nil }
                    defer { s.next += 1 }
                    return s.next
                }
                guard let index else { return }
                do {
                    try jobsCopy[index]()
                } catch {
                    shared.withLock { s in if s.firstError == nil { s.firstError = error } }
                    return
                }
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    done.wait()
    if let error = shared.withLock({ $0.firstError }) { throw error }
}
