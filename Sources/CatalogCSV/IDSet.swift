/// The set of ids accepted so far from one file, as a sparse bitset: 32,768 pages of 65,536
/// bits (8 KiB), each allocated on first use. Memory is 256 KiB of page table plus 8 KiB per
/// touched page — ~3.4 MB for 27M dense ids, never more than 256 MiB for any ids in 1...2³¹−1.
final class IDSet {
    private static let pageBits = 16
    private static let pageCount = 1 << (31 - pageBits)
    private static let wordsPerPage = (1 << pageBits) / 64

    private let pages: UnsafeMutablePointer<UnsafeMutablePointer<UInt64>?>

    init() {
        pages = .allocate(capacity: Self.pageCount)
        pages.initialize(repeating: nil, count: Self.pageCount)
    }

    deinit {
        for i in 0..<Self.pageCount {
            pages[i]?.deallocate()
        }
        pages.deallocate()
    }

    /// Adds `id` (0...Int32.max); returns false if it was already present.
    @inline(__always)
    func insert(_ id: Int) -> Bool {
        let pageIndex = id >> Self.pageBits
        let page: UnsafeMutablePointer<UInt64>
        if let existing = pages[pageIndex] {
            page = existing
        } else {
            page = .allocate(capacity: Self.wordsPerPage)
            page.initialize(repeating: 0, count: Self.wordsPerPage)
            pages[pageIndex] = page
        }
        let bit = id & ((1 << Self.pageBits) - 1)
        let mask: UInt64 = 1 << UInt64(bit & 63)
        let word = page[bit >> 6]
        if word & mask != 0 { return false }
        page[bit >> 6] = word | mask
        return true
    }
}
