import Testing
import ProductsAPI

@Suite struct EntityTagTests {
    let generation = "20261201_184512_4711_1x9k2q"

    @Test func eachRouteHasItsOwnTag() {
        #expect(EntityTag.string(generation: generation, route: .product(id: 1)) == "\"\(generation)-p1\"")
        #expect(EntityTag.string(generation: generation, route: .styles(id: 42)) == "\"\(generation)-s42\"")
        #expect(EntityTag.string(generation: generation, route: .related(id: 2147483647)) == "\"\(generation)-r2147483647\"")
        #expect(EntityTag.string(generation: generation, route: .list(page: 3, count: 25)) == "\"\(generation)-l3.25\"")
    }

    @Test(arguments: [
        // (If-None-Match, matches "\"g-s1\"")
        ("\"g-s1\"", true),
        ("W/\"g-s1\"", true),                     // weak comparison (gzip makes nginx's ETag weak)
        ("\"other\", \"g-s1\"", true),
        ("\"other\",W/\"g-s1\"", true),
        ("  \"g-s1\"  ", true),
        ("\t\"x\",\t\"g-s1\"", true),
        ("*", true),
        ("\"g-s1 \"", false),
        ("\"g-s\"", false),
        ("\"G-S1\"", false),                      // opaque tags compare byte for byte
        ("g-s1", false),                          // unquoted: not an entity tag
        ("W/g-s1, \"x\"", false),
        ("\"g-s1", false),                        // unterminated
        ("", false),
        (",,,", false),
        ("W/", false),
        ("garbage, \"g-s1\"", true),              // the malformed member is skipped, the rest still counts
    ])
    func ifNoneMatch(field: String, matches: Bool) {
        #expect(EntityTag.matches(ifNoneMatch: field, etag: "\"g-s1\"") == matches)
    }
}
