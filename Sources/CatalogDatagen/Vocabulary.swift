// The words the catalog is made of, in the flavour of the real export's first rows
// (samples/atelier-head): faker-style names and lorem text, apparel categories, feature
// name/value pairs, colourway style names, clothing and shoe sizes, Unsplash photo URLs.
//
// Text fields are stored already quoted for CSV (`"…"`, inner quotes doubled).

/// Which sizes a product's skus come in; derived from its category.
enum SizeSystem: Int, Sendable {
    case clothing, shoes, oneSize
}

/// A category and the sizes its skus come in.
struct Category: Sendable {
    let quoted: Bytes
    let word: Bytes  // unquoted, used at the end of a product name
    let system: SizeSystem
}

/// A feature name with its possible values (`nil` is written as an unquoted `null`).
struct Feature: Sendable {
    let quotedName: Bytes
    let quotedValues: [Bytes?]
}

/// A photo on the image CDN: the URL up to the width parameter.
struct Photo: Sendable {
    let prefix: Bytes  // https://images.unsplash.com/photo-…&w=
}

final class Vocabulary: Sendable {
    let loremLower: [Bytes]
    let loremCapitalised: [Bytes]
    let firstNames: [Bytes]
    let categories: [[Category]]  // indexed by SizeSystem.rawValue
    let features: [Feature]
    let colours: [Bytes]          // unquoted; style names join one or two
    let plainColours: [Bytes]     // the short, common ones
    let quotedStyleNames: [Bytes] // a few names that need `""`
    let sizes: [[Bytes]]          // quoted, indexed by SizeSystem.rawValue
    let photos: [Photo]
    let urlWidths: [Bytes]
    let thumbnailTail: Bytes      // 300&q=80
    let urlTail: Bytes            // &q=80

    init(seed: UInt64) {
        func q(_ s: String) -> Bytes { Bytes("\"" + String(s.flatMap { $0 == "\"" ? ["\"", "\""] : [$0] }) + "\"") }

        let lorem = Self.loremText.split(separator: " ").map(String.init)
        var seen = Set<String>()
        let unique = lorem.filter { seen.insert($0).inserted }
        loremLower = unique.map { Bytes($0) }
        loremCapitalised = unique.map { Bytes($0.prefix(1).uppercased() + $0.dropFirst()) }
        firstNames = Self.names.split(separator: " ").map { Bytes(String($0)) }

        func cats(_ list: String, _ system: SizeSystem) -> [Category] {
            list.split(separator: "|").map { Category(quoted: q(String($0)), word: Bytes(String($0)), system: system) }
        }
        categories = [
            cats("Shirt|Trousers|Suit|Romper|Sweatpants|Tank Top|Shorts|Jacket|Pants|Jackets|Hoodie|Sweater|Cardigan|Blazer|Coat|Dress|Skirt|Jeans|Joggers|Leggings|Vest|Pajamas|Onesie|Slacks|Tee|Polo|Parka|Overalls", .clothing),
            cats("Kicks|Dress Shoes|Basketball Shoes|Sneakers|Boots|Heels|Sandals|Slippers|Loafers", .shoes),
            cats("Accessories|Hat|Cap|Beanie|Scarf|Belt|Sunglasses|Backpack|Tie|Watch", .oneSize),
        ]

        features = Self.featureTable.map { name, values in
            Feature(quotedName: q(name), quotedValues: values.map { $0.map(q) })
        }
        colours = Self.colourList.split(separator: "|").map { Bytes(String($0)) }
        plainColours = "Black|White|Grey|Red|Blue|Tan|Pink|Green|Navy|Gold|Lime|Cyan|Teal|Plum|Sand|Mint|Rust"
            .split(separator: "|").map { Bytes(String($0)) }
        quotedStyleNames = [
            "Heather \"Storm\" Grey", "The \"Classic\" Black", "Sunset \"OG\" Orange", "Midnight \"Blue\"",
            "\"Triple White\"", "Olive, Sand & Black", "Red, White & Blue", "Black, Grey, White",
        ].map(q)
        sizes = [
            ["XS", "S", "M", "L", "XL", "XXL", "XL"].map(q),
            ["7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "11.5", "12"].map(q),
            ["One Size"].map(q),
        ]

        // A pool of photos, drawn once from the seed like the real export's reuse of a few
        // thousand Unsplash images: 13-digit (sometimes 10-digit) ids, 12 hex digits, and
        // the `ixid` parameter on most of them.
        var rng = Xoshiro256(seed: seed, stream: "photo-pool")
        let hex = Array("0123456789abcdef")
        var pool: [Photo] = []
        for _ in 0..<4096 {
            var id = "photo-15"
            let digits = rng.below(10) < 8 ? 11 : 8
            for _ in 0..<digits { id.append(Character(String(rng.below(10)))) }
            id.append("-")
            for _ in 0..<12 { id.append(hex[rng.below(16)]) }
            var url = "https://images.unsplash.com/" + id + "?ixlib=rb-1.2.1"
            if rng.below(100) < 65 { url += "&ixid=eyJhcHBfaWQiOjEyMDd9" }
            url += "&auto=format&fit=crop&w="
            pool.append(Photo(prefix: Bytes(url)))
        }
        photos = pool
        urlWidths = ["668", "1000", "1650", "1650", "1650", "1567", "2734", "2760", "1525", "1511", "975", "2850", "800", "1350", "1651", "2089"].map { Bytes($0 + "&q=80") }
        thumbnailTail = Bytes("300&q=80")
        urlTail = Bytes("&q=80")
    }

    // MARK: word lists

    static let loremText = """
        alias consequatur aut perferendis sit voluptatem accusantium doloremque aperiam eaque ipsa quae ab illo \
        inventore veritatis et quasi architecto beatae vitae dicta sunt explicabo aspernatur odit fugit sed quia \
        consequuntur magni dolores eos qui ratione sequi nesciunt neque dolorem ipsum dolor amet consectetur \
        adipisci velit non numquam eius modi tempora incidunt ut labore dolore magnam aliquam quaerat enim ad \
        minima veniam quis nostrum exercitationem ullam corporis nemo ipsam voluptas suscipit laboriosam nisi \
        aliquid ex ea commodi autem vel eum iure reprehenderit in voluptate esse quam nihil molestiae iusto odio \
        dignissimos ducimus blanditiis praesentium laudantium totam rem voluptatum deleniti atque corrupti quos \
        quas molestias excepturi sint occaecati cupiditate provident perspiciatis unde omnis iste natus error \
        similique culpa officia deserunt mollitia animi id est laborum dolorum fuga harum quidem rerum facilis \
        expedita distinctio nam libero tempore cum soluta nobis eligendi optio cumque impedit quo porro quisquam \
        minus quod maxime placeat facere possimus assumenda repellendus temporibus quibusdam illum fugiat nulla \
        pariatur at vero accusamus officiis debitis necessitatibus saepe eveniet voluptates repudiandae \
        recusandae itaque earum hic tenetur a sapiente delectus reiciendis voluptatibus maiores doloribus \
        asperiores repellat
        """

    static let names = """
        Belle Heber Jaeden Jerrod Alexane Bartholome Oliver Eloisa Matilda Aurelia Bryce Camden Delphine Elian \
        Fabian Gunner Hattie Imani Jovan Kaia Lennox Marisol Nola Orion Piper Quinn Rosalind Soren Tamsin Ulric \
        Vesper Wren Xander Yara Zelda Ansel Briar Cormac Dahlia Emeric Freya Gideon Hollis Isadora Jasper Kestrel \
        Liesel Magnus Nadia Odette Percival Rowan Saoirse Thaddeus Una Viggo Winona Ximena Yusuf Zephyr Adela \
        Bram Celeste Dorian Esme Felix Greta Hugo Ines Jude Kit Luca Mabel Nico Otto Pearl Remy Sylvie Theo Ursa \
        Vera Wilder Yves Zara Alec Bernadette Cyrus Daphne Edgar Flora Gus Helena Ivo Juno Karl Lottie Milo
        """

    static let featureTable: [(String, [String?])] = [
        ("Fabric", ["Canvas", "100% Cotton", "99% Cotton 1% Elastic", "95% Cotton, 5% Elastic", "Cashmere",
                    "Silk", "Linen", "Merino Wool", "Denim", "Corduroy", "Organic Cotton", "Nylon, Polyester"]),
        ("Buttons", ["Brass", "White Resin", "Wood", "Tortoise Shell", "Silver"]),
        ("Lenses", ["Ultrasheen", "Polarized", "Mirrored"]),
        ("Lens", ["Ultrasheen Basic", "100% UV Protective", "Gradient"]),
        ("UV Protection", [nil]),
        ("Frames", ["LightCompose", "Titanium"]),
        ("Frame", ["AllLight Composition Resin", "Acetate"]),
        ("Cut", ["Skinny", "Loose", "Straight", "Relaxed", "Slim"]),
        ("Sole", ["Rubber", "Foam", "Leather"]),
        ("Material", ["FullControlSkin", "Leather", "Suede", "Mesh"]),
        ("Mid-Sole", ["ControlSupport Arch Bridge", "Memory Foam"]),
        ("Stitching", ["Double Stitch", "Cross Stitch", "Triple Stitch"]),
        ("Inseam", ["30\"", "32\"", "34\""]),
        ("Non-GMO", [nil]),
        ("Green Leaf Certified", [nil]),
        ("Lifetime Guarantee", [nil]),
        ("5 Year Warranty", [nil]),
        ("Fair Trade Certified", [nil]),
    ]

    static let colourList = """
        Forest Green|Black|Desert Brown|Tan|Ocean Blue|Grey|Digital Red|Sky Blue|White|Dark Grey|Gold|Goldenrod|\
        Maroon|Chartreuse|Olive Green|Red|Pinstripe|Khaki|Plaid|Lime|Violet|Cyan|Fuchsia|Azure|Lavender|Purple|\
        Silver|Zebra Stripe|Oreo|Butter|Pink|Green|Navy|Teal|Coral|Mint|Peach|Burgundy|Charcoal|Ivory|Cream|\
        Mustard|Rust|Sand|Slate|Orchid|Plum|Salmon|Indigo|Turquoise|Sky blue|Magenta|Orange|Yellow|Blue
        """
}
