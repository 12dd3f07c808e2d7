import Testing
import ProductsAPI

@Suite struct PaginationTests {
    @Test func firstPages() {
        #expect(Pagination.rankRange(page: 1, count: 5) == 1...5)
        #expect(Pagination.rankRange(page: 2, count: 5) == 6...10)
        #expect(Pagination.rankRange(page: 3, count: 1) == 3...3)
        #expect(Pagination.rankRange(page: 1, count: 1000) == 1...1000)
        #expect(Pagination.rankRange(page: 1000, count: 1000) == 999_001...1_000_000)
    }

    @Test func lastRepresentableRanks() {
        // The page that starts at the largest int still exists (it is just empty in practice).
        #expect(Pagination.rankRange(page: 2147483647, count: 1) == 2147483647...2147483647)
        // A page straddling the largest int is clamped, not overflowed.
        #expect(Pagination.rankRange(page: 2147483, count: 1000) == 2147482001...2147483000)
        #expect(Pagination.rankRange(page: 2147484, count: 1000) == 2147483001...2147483647)
    }

    @Test func pagesPastTheLargestRankNeedNoQuery() {
        #expect(Pagination.rankRange(page: 2147483648, count: 1) == nil)
        #expect(Pagination.rankRange(page: 2147485, count: 1000) == nil)
        #expect(Pagination.rankRange(page: 2147483647, count: 1000) == nil)
        #expect(Pagination.rankRange(page: 2147483647, count: 2) == nil)
        #expect(Pagination.rankRange(page: Int.max, count: 1000) == nil)
        #expect(Pagination.rankRange(page: Int.max, count: 1) == nil)
        #expect(Pagination.rankRange(page: Int.max / 2, count: 3) == nil)  // the product overflows Int
    }

    @Test func hugeCountsDoNotTrap() {
        #expect(Pagination.rankRange(page: 1, count: Int.max) == 1...2147483647)
        #expect(Pagination.rankRange(page: 2, count: Int.max) == nil)
    }

    @Test func routerOutputIsAlwaysSafe() {
        // Whatever the router accepts, the math must not trap.
        let router = Router()
        for query in ["page=2147483647&count=1000", "page=99999999999999999999&count=1000", "page=4611686018427387904&count=1000"] {
            guard case .success(.list(let page, let count)) = router.route(method: "GET", path: "/products", query: query) else {
                Issue.record("\(query)"); continue
            }
            #expect(Pagination.rankRange(page: page, count: count) == nil)
        }
    }
}
