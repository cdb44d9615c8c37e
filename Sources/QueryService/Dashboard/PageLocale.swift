import HTTP

/// The language of one dashboard page: its messages and dates (``Localizer``), how the language
/// was chosen, and what the language switch links to (this page's own query with `lang` set).
struct PageLocale: Sendable {
    var t: Localizer
    let choice: LanguageChoice
    /// This request's query without `lang`, for the switch's links.
    let query: [(String, String)]
    /// The request came over HTTPS (through a proxy that says so): cookies get `Secure`.
    let secure: Bool

    init(
        _ request: HTTPRequest, defaultLanguage: Language, timeZone: String, ruleTitles: RulesetTitles = RulesetTitles()
    ) {
        choice = LanguageChoice.of(request, fallback: defaultLanguage)
        t = Localizer(choice.language, timeZone: timeZone)
        t.ruleTitles = ruleTitles
        query = request.query.items.filter { $0.name != "lang" }.map { ($0.name, $0.value) }
        secure = request.headers["X-Forwarded-Proto"]?.lowercased() == "https"
    }

    /// A locale for rendering without a request (tests, and pages rendered outside a route).
    init(_ language: Language, timeZone: String = "Europe/Belgrade") {
        choice = LanguageChoice(language: language, source: .deploymentDefault)
        t = Localizer(language, timeZone: timeZone)
        query = []
        secure = false
    }

    /// The headers every response to this request carries: a language chosen with the switch
    /// (`?lang=`) is remembered in the `handoff_lang` cookie.
    var headers: HTTPHeaders {
        guard choice.source == .query else { return [:] }
        return ["Set-Cookie": LanguageChoice.rememberCookie(choice.language, secure: secure)]
    }

    /// The response with this locale's headers added.
    func apply(_ response: HTTPResponse) -> HTTPResponse {
        var response = response
        for field in headers { response.headers.add(name: field.name, value: field.value) }
        return response
    }

    /// The switch's link to `language`: a query-only reference, so it keeps this page's path
    /// whatever that path is, and keeps the page's filters.
    func switchTarget(_ language: Language) -> String {
        "?" + (query + [("lang", language.tag)]).map { $0.0 + "=" + HTML.queryValue($0.1) }.joined(separator: "&")
    }

    /// The language switch: one link per language, named in its own language, the current one
    /// marked for assistive technology.
    var languageSwitch: HTML {
        let links: [HTML] = Language.allCases.map { language in
            let current: HTML = language == t.language ? " aria-current=\"true\"" : ""
            return """
                <li><a href="\(switchTarget(language))" lang="\(language.tag)" hreflang="\(language.tag)"\(current)>\
                \(language.nativeName)</a></li>
                """
        }
        return "<nav class=\"languages\" aria-label=\"\(t("layout.language"))\"><ul>\(links)</ul></nav>"
    }

    /// Notes under the header: a `?lang=` that named no language of ours, and a translation
    /// not yet reviewed by a native-speaker practitioner.
    var notes: HTML {
        var parts: [HTML] = []
        if choice.unknownRequested {
            parts.append("<p class=\"note\" role=\"status\" id=\"unknown-language\">\(t("layout.unknownLanguage"))</p>")
        }
        if !t.catalogue.reviewed {
            parts.append("<p class=\"note unreviewed\" id=\"unreviewed\">\(t("layout.unreviewed"))</p>")
        }
        return HTML(joining: parts)
    }
}
