import Testing
@testable import LoadGenerator

@Suite struct ScheduleTests {
    @Test func slotsAreDueEveryOneOverRate() {
        let s = Schedule(rate: 1000, warmupNanoseconds: 0, durationNanoseconds: 1_000_000_000)
        #expect(s.offset(ofSlot: 0) == 0)
        #expect(s.offset(ofSlot: 1) == 1_000_000)
        #expect(s.offset(ofSlot: 999) == 999_000_000)
        #expect(s.slotCount == 1000)
        #expect(s.firstMeasuredSlot == 0)
        #expect(s.measuredSlotCount == 1000)
    }

    @Test func dueTimesDoNotDriftForRatesThatDoNotDivideASecond() {
        // 3 req/s: 0, 333,333,333, 666,666,666, 1 s exactly; no accumulated rounding.
        let s = Schedule(rate: 3, warmupNanoseconds: 0, durationNanoseconds: 10_000_000_000)
        #expect(s.offset(ofSlot: 1) == 333_333_333)
        #expect(s.offset(ofSlot: 2) == 666_666_666)
        #expect(s.offset(ofSlot: 3) == 1_000_000_000)
        #expect(s.offset(ofSlot: 30_000) == 10_000_000_000_000)
        #expect(s.slotCount == 30)
        // 7,000 req/s over 30 s: request i is due at i / 7000 s, to the nanosecond.
        let fast = Schedule(rate: 7000, warmupNanoseconds: 0, durationNanoseconds: 30_000_000_000)
        #expect(fast.slotCount == 210_000)
        for i in [1, 7, 6999, 7000, 123_457, 209_999] {
            let exact = UInt64(i) * 1_000_000_000 / 7000
            #expect(fast.offset(ofSlot: i) >= exact - 1 && fast.offset(ofSlot: i) <= exact)
        }
    }

    @Test func warmupSlotsAreSentButNotMeasured() {
        let s = Schedule(rate: 100, warmupNanoseconds: 2_000_000_000, durationNanoseconds: 5_000_000_000)
        #expect(s.slotCount == 700)
        #expect(s.firstMeasuredSlot == 200)      // due at exactly 2 s: the first measured one
        #expect(s.measuredSlotCount == 500)
        #expect(!s.isMeasured(199))
        #expect(s.isMeasured(200))
        #expect(s.offset(ofSlot: 200) == 2_000_000_000)
        #expect(s.offset(ofSlot: 699) < 7_000_000_000)
    }

    @Test func slotCountRoundsPartialIntervalsUp() {
        // 1 req/s for 2.5 s: due at 0, 1, 2 s.
        let s = Schedule(rate: 1, warmupNanoseconds: 0, durationNanoseconds: 2_500_000_000)
        #expect(s.slotCount == 3)
        // 1 req/s, warm-up 0.5 s: slot 0 (t = 0) is warm-up, slot 1 (t = 1 s) the first measured.
        let w = Schedule(rate: 1, warmupNanoseconds: 500_000_000, durationNanoseconds: 2_000_000_000)
        #expect(w.firstMeasuredSlot == 1)
        #expect(w.slotCount == 3)   // 0, 1, 2 s; 2.5 s is not < 2.5 s
        #expect(w.measuredSlotCount == 2)
    }

    @Test func aProductPageIsOneSlotOfThreeRequests() {
        // 300 req/s of pages = 100 pages/s, one every 10 ms.
        let s = Schedule(rate: 300, requestsPerSlot: 3, warmupNanoseconds: 0, durationNanoseconds: 1_000_000_000)
        #expect(s.slotInterval == 10_000_000)
        #expect(s.slotCount == 100)
        #expect(s.offset(ofSlot: 5) == 50_000_000)
    }

    @Test func eachThreadTakesEveryNthSlotAndTogetherTheyCoverTheSchedule() {
        let s = Schedule(rate: 10_000, warmupNanoseconds: 1_000_000_000, durationNanoseconds: 2_000_000_000)
        let threads = 3
        var seen = Set<Int>()
        var lastDue: [UInt64] = Array(repeating: 0, count: threads)
        for t in 0..<threads {
            for slot in stride(from: t, to: s.slotCount, by: threads) {
                #expect(seen.insert(slot).inserted)
                let due = s.offset(ofSlot: slot)
                #expect(due >= lastDue[t])   // each thread's own slots are in time order
                lastDue[t] = due
            }
        }
        #expect(seen.count == 30_000)
    }

    /// loader.io's "from A to B": the warm-up at A, then a linear ramp; the slots in each second
    /// of the window follow the rate, and due times only ever increase.
    @Test func aRampOffersTheAverageOfItsEndsAndRisesSecondBySecond() {
        let up = Schedule(rate: 1000, warmupNanoseconds: 2_000_000_000, durationNanoseconds: 10_000_000_000, rampTo: 3000)
        #expect(up.firstMeasuredSlot == 2000)                 // 2 s at 1,000 req/s
        #expect(abs(up.measuredSlotCount - 20_000) <= 1)      // (1,000 + 3,000) / 2 × 10 s
        var last: UInt64 = 0
        for k in stride(from: 0, to: up.slotCount, by: 7) {
            let t = up.offset(ofSlot: k)
            #expect(t >= last)
            last = t
        }
        // Slots due in the first and the last second of the window: ~1,100 and ~2,900.
        let first = up.slots(before: 3_000_000_000) - up.slots(before: 2_000_000_000)
        let final = up.slots(before: 12_000_000_000) - up.slots(before: 11_000_000_000)
        #expect(abs(first - 1100) <= 2 && abs(final - 2900) <= 2, "\(first) \(final)")
        #expect(up.rate(at: 7_000_000_000) == 2000)
        let down = Schedule(rate: 3000, warmupNanoseconds: 0, durationNanoseconds: 10_000_000_000, rampTo: 1000)
        #expect(abs(down.slotCount - 20_000) <= 1)
        #expect(down.offset(ofSlot: down.slotCount - 1) < 10_000_000_000)
        // A ramp to the same rate is no ramp.
        #expect(Schedule(rate: 5, warmupNanoseconds: 0, durationNanoseconds: 1, rampTo: 5).rampTo == nil)
    }

    @Test func aSecondsLatencyBucketsGivePercentilesWithinAQuarterOctave() {
        var b = SecondBucket()
        for us in 1...1000 { b.record(nanoseconds: UInt64(us) * 1000) }   // 1 µs … 1 ms
        let p50 = b.latencyMs(quantile: 0.5)!, p99 = b.latencyMs(quantile: 0.99)!
        #expect(p50 >= 0.5 && p50 <= 0.5 * 1.19 + 0.001, "\(p50)")
        #expect(p99 >= 0.99 && p99 <= 0.99 * 1.19 + 0.001, "\(p99)")
        #expect(SecondBucket().latencyMs(quantile: 0.5) == nil)
    }
}
