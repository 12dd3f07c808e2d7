import Testing
import ProductsAPI

@Suite struct APIErrorTests {
    @Test func statusesMatchTheContract() {
        #expect(APIError.invalidProductID.status.code == 400)
        #expect(APIError.invalidPage.status.code == 400)
        #expect(APIError.invalidCount.status.code == 400)
        #expect(APIError.repeatedPage.status.code == 400)
        #expect(APIError.repeatedCount.status.code == 400)
        #expect(APIError.routeNotFound.status.code == 404)
        #expect(APIError.productNotFound(1).status.code == 404)
        #expect(APIError.methodNotAllowed.status.code == 405)
        #expect(APIError.internalError.status.code == 500)
        #expect(APIError.serviceUnavailable.status.code == 503)
    }

    @Test func onlyMethodNotAllowedCarriesAllow() {
        #expect(APIError.methodNotAllowed.allow == "GET, HEAD")
        for error in [APIError.invalidProductID, .invalidPage, .invalidCount, .routeNotFound,
                      .productNotFound(1), .internalError, .serviceUnavailable] {
            #expect(error.allow == nil)
        }
    }

    @Test func transientFailuresAreNotCacheable() {
        #expect(!APIError.serviceUnavailable.isCacheable)
        #expect(!APIError.internalError.isCacheable)
        #expect(APIError.productNotFound(1).isCacheable)
        #expect(APIError.invalidProductID.isCacheable)
    }

    @Test func productNotFoundNamesTheID() {
        #expect(APIError.productNotFound(2147483647).message == "product 2147483647 not found")
        #expect(APIError.productNotFound(3).code == .productNotFound)
    }

    @Test func reasonPhrases() {
        #expect(HTTPStatus.ok.reasonPhrase == "OK")
        #expect(HTTPStatus.badRequest.reasonPhrase == "Bad Request")
        #expect(HTTPStatus.notFound.reasonPhrase == "Not Found")
        #expect(HTTPStatus.methodNotAllowed.reasonPhrase == "Method Not Allowed")
        #expect(HTTPStatus.internalServerError.reasonPhrase == "Internal Server Error")
        #expect(HTTPStatus.serviceUnavailable.reasonPhrase == "Service Unavailable")
    }

    @Test func description() {
        #expect(APIError.routeNotFound.description.hasPrefix("404 routeNotFound: "))
    }
}

@Suite struct RouteTests {
    @Test func methods() {
        #expect(RequestMethod("GET") == .get)
        #expect(RequestMethod("HEAD") == .head)
        #expect(RequestMethod("POST") == .other)
        #expect(RequestMethod("get") == .other)
        #expect(RequestMethod("") == .other)
        #expect(RequestMethod.head.omitsBody)
        #expect(!RequestMethod.get.omitsBody)
    }

    @Test func productID() {
        #expect(Route.product(id: 1).productID == 1)
        #expect(Route.styles(id: 2).productID == 2)
        #expect(Route.related(id: 3).productID == 3)
        #expect(Route.list(page: 1, count: 5).productID == nil)
    }
}
