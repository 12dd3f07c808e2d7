import Foundation

/// Turns the five real responses of the legacy service (Fixtures/legacy-api-responses.json)
/// back into the CSV rows that would have produced them, so that an import of those rows
/// must serve the same responses again.
///
/// Photos carry no ids in the responses: they get consecutive ids in response order, which
/// is the order the API must keep. Placeholder photos and skus (`url: null`, sku key
/// "null") become no rows at all — the placeholders must come back by themselves.
public struct LegacyFixture {
    public let responses: [[String: Any]]

    public init() throws {
        let url = Fixture.legacyResponses
        responses = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [[String: Any]]
    }

    public var productIDs: [Int] { responses.map { ($0["product"] as! [String: Any])["id"] as! Int } }

    public func product(_ id: Int) -> [String: Any] {
        var p = responses.map { $0["product"] as! [String: Any] }.first { $0["id"] as? Int == id }!
        // Not part of the contract (docs/api.md): the CSV export has no such data.
        for key in ["campus", "created_at", "updated_at"] { p[key] = nil }
        return p
    }

    public func styles(_ id: Int) -> [String: Any] {
        responses.first { ($0["product"] as! [String: Any])["id"] as? Int == id }!["styles"] as! [String: Any]
    }

    /// `ordered`: products in ascending id order (the export's order); otherwise in the order
    /// of the responses, which the importer must load all the same (row by row).
    public func writeCSVs(to dir: String, ordered: Bool = false) throws {
        var product = ["id,name,slogan,description,category,default_price"]
        var features = ["id,product_id,feature,value"]
        var styles = ["id,productId,name,sale_price,original_price,default_style"]
        var skus = ["id,styleId,size,quantity"]
        var photos = ["id,styleId,url,thumbnail_url"]
        let related = ["id,current_product_id,related_product_id"]
        var featureID = 0, photoID = 0
        let products = ordered ? responses.sorted { (($0["product"] as! [String: Any])["id"] as! Int) < (($1["product"] as! [String: Any])["id"] as! Int) } : responses
        for r in products {
            let p = r["product"] as! [String: Any]
            let id = p["id"] as! Int
            product.append([String(id), q(p["name"]), q(p["slogan"]), q(p["description"]), q(p["category"]), raw(p["default_price"])].joined(separator: ","))
            for f in p["features"] as! [[String: Any]] {
                featureID += 1
                features.append([String(featureID), String(id), q(f["feature"]), q(f["value"])].joined(separator: ","))
            }
            for s in (r["styles"] as! [String: Any])["results"] as! [[String: Any]] {
                let sid = s["style_id"] as! Int
                styles.append([String(sid), String(id), q(s["name"]), raw(s["sale_price"]), raw(s["original_price"]),
                               (s["default?"] as! Bool) ? "1" : "0"].joined(separator: ","))
                for ph in s["photos"] as! [[String: Any]] where !(ph["url"] is NSNull) {
                    photoID += 1
                    photos.append([String(photoID), String(sid), q(ph["url"]), q(ph["thumbnail_url"])].joined(separator: ","))
                }
                let skuMap = s["skus"] as! [String: [String: Any]]
                for key in skuMap.keys.compactMap(Int.init).sorted() {
                    let sku = skuMap[String(key)]!
                    skus.append([String(key), String(sid), q(sku["size"]), raw(sku["quantity"])].joined(separator: ","))
                }
            }
        }
        let files = ["product.csv": product, "features.csv": features, "styles.csv": styles,
                     "skus.csv": skus, "photos.csv": photos, "related.csv": related]
        for (name, lines) in files {
            try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        }
    }

    private func q(_ value: Any?) -> String {
        guard let s = value as? String else { return "null" }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private func raw(_ value: Any?) -> String {
        switch value {
        case let s as String: return s
        case let n as Int: return String(n)
        default: return "null"
        }
    }
}

/// Deep equality of JSON values as JSONSerialization returns them (key order ignored,
/// array order kept; 1 and true are different).
public func jsonEqual(_ a: Any?, _ b: Any?) -> Bool {
    switch (a, b) {
    case (nil, nil): return true
    case (is NSNull, is NSNull): return true
    case let (x as [String: Any], y as [String: Any]):
        return x.count == y.count && x.allSatisfy { k, v in y.keys.contains(k) && jsonEqual(v, y[k]) }
    case let (x as [Any], y as [Any]):
        return x.count == y.count && zip(x, y).allSatisfy { jsonEqual($0, $1) }
    case let (x as NSNumber, y as NSNumber):
        // JSONSerialization marks booleans with objCType "c".
        let xb = String(cString: x.objCType) == "c", yb = String(cString: y.objCType) == "c"
        return xb == yb && x == y
    case let (x as String, y as String): return x == y
    default: return false
    }
}
