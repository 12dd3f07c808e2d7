/// The API routes a run can ask for (docs/api.md).
public enum Route: Int, CaseIterable, Sendable, CustomStringConvertible {
    case product = 0    // GET /products/:id
    case styles         // GET /products/:id/styles
    case related        // GET /products/:id/related
    case list           // GET /products?page=P&count=C

    public var description: String {
        switch self {
        case .product: "product"
        case .styles: "styles"
        case .related: "related"
        case .list: "list"
        }
    }

    public init?(name: String) {
        guard let route = Route.allCases.first(where: { $0.description == name }) else { return nil }
        self = route
    }
}

/// What each slot of the schedule sends.
public enum Workload: Sendable, Equatable, CustomStringConvertible {
    /// One request per slot on one route.
    case single(Route)
    /// A product page as a front end loads it: product + styles + related for the same id, the
    /// three sent together at the slot's due time. The page's latency is the slowest of the three.
    case page
    /// One request per slot, the route drawn with these weights (ids as the distribution says).
    case mix([Route: Int])

    /// The default mix: a browsing session, three product pages for one list page.
    public static let defaultMix: [Route: Int] = [.product: 3, .styles: 3, .related: 3, .list: 1]

    public var requestsPerSlot: Int {
        if case .page = self { return 3 }
        return 1
    }

    public var description: String {
        switch self {
        case .single(let route): route.description
        case .page: "page"
        case .mix(let weights):
            "mix(" + Route.allCases.compactMap { r in weights[r].map { "\(r)=\($0)" } }.joined(separator: ",") + ")"
        }
    }

    /// Routes this workload can send.
    public var routes: [Route] {
        switch self {
        case .single(let route): [route]
        case .page: [.product, .styles, .related]
        case .mix(let weights): Route.allCases.filter { (weights[$0] ?? 0) > 0 }
        }
    }
}

/// One request to send: filled in when its slot comes due.
public struct PlannedRequest: Sendable, Equatable {
    public var slot: Int
    /// Due time, monotonic nanoseconds.
    public var due: UInt64
    public var route: Route
    /// Product id, or the page number for `.list`.
    public var target: Int
    public var measured: Bool
    /// Set once: a request on a reused keep-alive connection that the server closed before
    /// any answer is resent once on a fresh connection (as browsers do for idempotent GETs).
    public var retried: Bool = false

    public init(slot: Int, due: UInt64, route: Route, target: Int, measured: Bool) {
        self.slot = slot
        self.due = due
        self.route = route
        self.target = target
        self.measured = measured
    }
}

/// Turns slot numbers into requests: deterministic for a seed (each slot draws from its own
/// generator), so two runs with the same options ask for the same ids in the same order.
public struct RequestPlanner: Sendable {
    public let workload: Workload
    public let ids: IdSampler
    /// Pages for the list route: the same distribution over 1…⌈max id / page size⌉.
    public let pages: IdSampler
    public let listCount: Int
    public let seed: UInt64
    private let mixTable: [(route: Route, cumulative: UInt64)]
    private let mixTotal: UInt64

    public init(workload: Workload, ids: IdSampler, listCount: Int = 5, seed: UInt64) {
        precondition(listCount >= 1)
        self.workload = workload
        self.ids = ids
        self.listCount = listCount
        self.seed = seed
        let pageCount = Swift.max(1, (ids.max + listCount - 1) / listCount)
        pages = IdSampler(ids.distribution, max: pageCount, permutationSeed: ids.permutation.seed)
        var table: [(Route, UInt64)] = []
        var total: UInt64 = 0
        if case .mix(let weights) = workload {
            for route in Route.allCases {
                let w = weights[route] ?? 0
                precondition(w >= 0, "mix weights must be ≥ 0")
                guard w > 0 else { continue }
                total += UInt64(w)
                table.append((route, total))
            }
            precondition(total > 0, "a mix needs at least one route with a weight > 0")
        }
        mixTable = table
        mixTotal = total
    }

    /// Calls `body` with each (route, target) of the slot, in send order.
    @inline(__always)
    public func forEachRequest(inSlot slot: Int, _ body: (Route, Int) -> Void) {
        var rng = SplitMix64(seed: seed, stream: UInt64(slot))
        switch workload {
        case .single(let route):
            body(route, target(for: route, using: &rng))
        case .page:
            let id = ids.sample(using: &rng)
            body(.product, id)
            body(.styles, id)
            body(.related, id)
        case .mix:
            let pick = rng.next(below: mixTotal)
            var route = mixTable[mixTable.count - 1].route
            for entry in mixTable where pick < entry.cumulative {
                route = entry.route
                break
            }
            body(route, target(for: route, using: &rng))
        }
    }

    @inline(__always)
    func target(for route: Route, using rng: inout SplitMix64) -> Int {
        route == .list ? pages.sample(using: &rng) : ids.sample(using: &rng)
    }
}
