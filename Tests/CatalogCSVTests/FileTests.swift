import Testing
import CatalogCSV

@Suite struct FileTests {
    @Test func missingFile() {
        #expect(openError(.product, path: "/nonexistent/product.csv") == .missing(path: "/nonexistent/product.csv"))
    }

    @Test func directoryIsUnreadable() {
        let dir = TempDir()
        guard case .unreadable(let path, let code) = openError(.product, path: dir.url.path) else {
            Issue.record("expected unreadable")
            return
        }
        #expect(path == dir.url.path)
        #expect(code != 0)
    }

    @Test func emptyFiles() {
        let dir = TempDir()
        for (name, bytes) in [("a.csv", [UInt8]()), ("b.csv", [0xEF, 0xBB, 0xBF]), ("c.csv", [0x0A, 0x0D, 0x0A])] {
            let path = dir.write(name, bytes)
            #expect(openError(.skus, path: path) == .empty(path: path))
        }
    }

    @Test func wrongHeader() {
        let dir = TempDir()
        let path = dir.write("photos.csv", Array("id,styleId,thumbnail_url,url\n1,1,a,b\n".utf8))
        #expect(openError(.photos, path: path)
                == .wrongHeader(path: path, expected: "id,styleId,url,thumbnail_url", found: "id,styleId,thumbnail_url,url"))
        let other = dir.write("skus.csv", Array("1,1,\"XS\",8\n".utf8))
        #expect(openError(.skus, path: other)
                == .wrongHeader(path: other, expected: "id,styleId,size,quantity", found: "1,1,\"XS\",8"))
        let error = openError(.skus, path: other)
        #expect(error?.description.hasPrefix("wrong header in \(other)") == true)
    }

    @Test func headersAndColumnsAgree() {
        for file in CatalogFile.allCases {
            #expect(file.header.split(separator: ",").count == file.columns.count)
            #expect(file.columns.first?.kind == .id)
            #expect(file.fileName == "\(file.rawValue).csv")
        }
        #expect(CatalogFile.styles.columns.map(\.name)
                == ["id", "product_id", "name", "sale_price", "original_price", "default_style"])
        #expect(CatalogFile.photos.columns.map(\.name) == ["id", "style_id", "url", "thumbnail_url"])
    }
}
