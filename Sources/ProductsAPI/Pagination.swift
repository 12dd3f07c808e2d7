/// Page math for `GET /products`, over the catalog's dense `rank` column (1...N in id order).
///
/// Page N is `rank BETWEEN first AND last`: an index range scan that costs what page 1 costs,
/// where `OFFSET` would walk every earlier row.
public enum Pagination {
    /// The ranks on `page` of `count` products, or `nil` when the page starts past the largest
    /// rank PostgreSQL's `int` can hold (such a page is `[]` without asking the database).
    ///
    /// Never traps: `page` may be anything up to `Int.max`, `count` anything positive.
    public static func rankRange(page: Int, count: Int) -> ClosedRange<Int32>? {
        precondition(page >= 1 && count >= 1, "the router only produces page >= 1, count >= 1")
        let (offset, overflowed) = (page - 1).multipliedReportingOverflow(by: count)
        guard !overflowed, offset < Int(Int32.max) else { return nil }
        let first = offset + 1
        // first <= Int32.max and the span is clamped to it too, so the sum fits in Int.
        let last = min(first + min(count - 1, Int(Int32.max)), Int(Int32.max))
        return Int32(first)...Int32(last)
    }
}
