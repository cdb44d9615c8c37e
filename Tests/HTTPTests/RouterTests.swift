import Testing

@testable import HTTP

@Suite("Router")
struct RouterTests {
    func makeRouter() -> Router {
        var router = Router()
        router.on(.GET, "/") { _, _ in .text(.ok, "root") }
        router.on(.GET, "/health") { _, _ in .json(.ok, #"{"status":"ok"}"#) }
        router.on(.GET, "/v1/cases/{caseId}") { _, params in .text(.ok, "case \(params["caseId"]!)") }
        router.on(.GET, "/v1/cases/new") { _, _ in .text(.ok, "new form") }
        router.on(.POST, "/v1/cases/{caseId}/events") { request, params in
            .text(.created, "append \(params["caseId"]!) \(request.bodyText)")
        }
        router.on(.GET, "/v1/cases/{caseId}/events") { request, params in
            .text(.ok, "events \(params["caseId"]!) after \(request.query["after"] ?? "-")")
        }
        router.on(.PUT, "/v1/subscriptions/{name}") { _, params in .text(.ok, "sub \(params["name"]!)") }
        return router
    }

    func call(_ method: HTTPMethod, _ target: String, body: String = "") async -> (Int, String, HTTPHeaders) {
        let response = await makeRouter().handle(HTTPRequest(method: method, target: target, body: Array(body.utf8)))
        return (response.status.code, String(decoding: response.bodyBytes ?? [], as: UTF8.self), response.headers)
    }

    @Test func routesWithParametersAndQuery() async {
        #expect(await call(.GET, "/").1 == "root")
        #expect(await call(.GET, "/health").1 == #"{"status":"ok"}"#)
        #expect(await call(.GET, "/v1/cases/KS-1").1 == "case KS-1")
        #expect(await call(.GET, "/v1/cases/KS-1/events?after=c%2F9").1 == "events KS-1 after c/9")
        #expect(await call(.POST, "/v1/cases/KS-1/events", body: "{}").0 == 201)
        #expect(await call(.PUT, "/v1/subscriptions/my%20sub").1 == "sub my sub")
    }

    @Test func parametersArePercentDecodedPerSegment() async {
        #expect(await call(.GET, "/v1/cases/a%2Fb").1 == "case a/b")
        #expect(await call(.GET, "/v1/cases/%C3%A9").1 == "case é")
    }

    @Test func literalBeatsParameter() async {
        #expect(await call(.GET, "/v1/cases/new").1 == "new form")
    }

    @Test func notFoundUsesTheJSONErrorBody() async {
        for target in ["/nope", "/v1/cases", "/v1/cases/", "/v1/cases/x/events/extra", "/health/"] {
            let (status, body, headers) = await call(.GET, target)
            #expect(status == 404, "\(target)")
            #expect(body == #"{"error":{"code":"not_found","message":"No resource at this path."}}"#)
            #expect(headers["Content-Type"] == "application/json")
        }
    }

    @Test func methodNotAllowedListsAllowedMethods() async {
        let (status, body, headers) = await call(.DELETE, "/v1/cases/KS-1/events")
        #expect(status == 405)
        #expect(body.contains(#""code":"method_not_allowed""#))
        #expect(headers["Allow"] == "POST, GET, HEAD")
        #expect(await call(.POST, "/health").2["Allow"] == "GET, HEAD")
    }

    @Test func headFallsBackToGet() async {
        #expect(await call(.HEAD, "/health").0 == 200)
    }

    @Test func errorBodiesEscapeJSON() {
        let response = HTTPResponse.error(.badRequest, code: "bad_request", message: "a \"quote\"\n\\ \u{1}")
        let body = String(decoding: response.bodyBytes!, as: UTF8.self)
        #expect(body == #"{"error":{"code":"bad_request","message":"a \"quote\"\n\\ \u0001"}}"#)
        #expect(HTTPResponse.error(.requestHeaderFieldsTooLarge, message: "x").bodyText.contains("bad_request"))
        #expect(HTTPResponse.error(.payloadTooLarge, message: "x").bodyText.contains("payload_too_large"))
    }
}

extension HTTPResponse {
    var bodyText: String { String(decoding: bodyBytes ?? [], as: UTF8.self) }
}
