import Crypto
import EventStore
import Foundation
import HandoffTestSupport
import Logging
import LoopbackHTTPClient
import Postgres
import Referrals
import ServiceStore
import Testing

@testable import QueryService

/// Persons sign in (issue 14): a user name and a password hashed by pgcrypto (bcrypt, cost 12),
/// plus a one-time code (TOTP) for accounts that have one — always for coordinators and auditors;
/// failures slow down and lock; unknown names look like wrong passwords; disabling or resetting
/// an account ends its sessions; what the person does is recorded under their user name.
@Suite("Persons sign in")
struct AccountSignInTests {
    static let form = "application/x-www-form-urlencoded"
    static let password = "correct horse battery"

    /// A harness whose sign-ins never wait (the delay's growth is tested without I/O below) and
    /// lock after `maxFailures`.
    static func start(
        maxFailures: Int = 5, logger: Logger = Logger(label: "service", logLevel: .warning),
        configure: @escaping (inout QueryServiceConfiguration) -> Void = { _ in }
    ) async throws -> Harness {
        try await Harness.start(logger: logger) {
            $0.signIn = SignInPolicy(maxFailures: maxFailures, firstDelay: .zero, maximumDelay: .zero)
            configure(&$0)
        }
    }

    static func encode(_ value: String) -> String { HTML.queryValue(value) }

    /// `POST /login` as a browser on this site sends it.
    static func signIn(
        _ h: Harness, user: String, password: String = password, code: String? = nil, query: String = "",
        origin: String = "http://127.0.0.1", headers: [(String, String)] = []
    ) async throws -> Reply {
        var body = "user=\(encode(user))&password=\(encode(password))"
        if let code { body += "&code=\(encode(code))" }
        return try await h.api.request(
            "POST", "/login" + query, json: body, contentType: form, headers: [("Origin", origin)] + headers)
    }

    static func sessionCookie(_ reply: Reply) -> String? {
        guard let setCookie = reply.header("Set-Cookie"), setCookie.hasPrefix("handoff_session=") else { return nil }
        let value = setCookie.dropFirst("handoff_session=".count).prefix { $0 != ";" }
        return value.isEmpty ? nil : String(value)
    }

    static func get(_ h: Harness, _ target: String, session: String) async throws -> Reply {
        try await h.api.request("GET", target, headers: [("Cookie", "handoff_session=\(session)")])
    }

    /// The alert a page shows, or nil.
    static func alert(_ reply: Reply) -> String? {
        guard let start = reply.text.range(of: "role=\"alert\"") else { return nil }
        let rest = reply.text[start.upperBound...]
        guard let open = rest.firstIndex(of: ">"), let close = rest.range(of: "</p>") else { return nil }
        return String(rest[rest.index(after: open)..<close.lowerBound])
    }

    static func message(_ key: String, _ language: Language = .english) -> String {
        HTML.escape(Localizer(language, timeZone: "Europe/Belgrade")(key))
    }

    /// A code of `secret` that is none of the three the server accepts now.
    static func wrongCode(_ secret: [UInt8]) -> String {
        let totp = AccountStore.totp(secret)
        let step = totp.step(at: Date().timeIntervalSince1970)
        let near = Set((step - 2...step + 2).map { totp.code(step: $0) })
        return ["000000", "111111", "222222", "333333", "444444", "555555"].first { !near.contains($0) }!
    }

    // MARK: - Rules without I/O

    @Test func theDelayDoublesWithEachFailureUpToItsCeiling() {
        let policy = SignInPolicy()
        #expect(policy.maxFailures == 5 && policy.lockDuration == .seconds(900))
        #expect(policy.delay(afterFailures: 0) == .zero)
        #expect(policy.delay(afterFailures: 1) == .milliseconds(500))
        #expect(policy.delay(afterFailures: 2) == .seconds(1))
        #expect(policy.delay(afterFailures: 3) == .seconds(2))
        #expect(policy.delay(afterFailures: 5) == .seconds(8))
        #expect(policy.delay(afterFailures: 1000) == .seconds(8))
        #expect(SignInPolicy(maxFailures: 0).maxFailures == 1)
    }

    @Test func theSignInGateTurnsAwayChecksPastItsLimit() {
        let gate = SignInGate(limit: 2)
        #expect(gate.enter() && gate.enter())
        #expect(!gate.enter())
        gate.leave()
        #expect(gate.enter())
        #expect(gate.taken == 2)
        #expect(
            SignInPolicy().maxConcurrentChecks == 8 && SignInPolicy(maxConcurrentChecks: 0).maxConcurrentChecks == 1)
        // One peer address holds at most a quarter of the places (an attack pass turned every
        // sign-in away from one address): the others still get in.
        let shared = SignInGate(limit: 8)
        #expect(shared.enter("203.0.113.7") && shared.enter("203.0.113.7"))
        #expect(!shared.enter("203.0.113.7"))
        #expect(shared.enter("198.51.100.2") && shared.enter(nil))
        shared.leave("203.0.113.7")
        #expect(shared.enter("203.0.113.7"))
        #expect(shared.taken == 4)
        #expect(SignInGate(limit: 8, perAddress: 8).perAddress == 8 && SignInGate(limit: 2).perAddress == 1)
    }

    @Test func aFloodOfSignInsIsTurnedAwayAndTheGateIsFreedAfterEach() async throws {
        let h = try await Self.start { $0.signIn.maxConcurrentChecks = 1 }
        defer { Task { await h.stop() } }
        try await h.service.accounts.add(
            userName: "busy-one", role: .institution, institution: "opav", displayName: "B", password: Self.password)
        // Twelve attempts at made-up names at once, one check at a time: some are turned away with
        // the busy message in the person's language; none is left holding the gate.
        let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
            for i in 0..<12 { group.addTask { try await Self.signIn(h, user: "made-up-\(i)", query: "?lang=sq") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for reply in replies {
            #expect([401, 429].contains(reply.status))
            if reply.status == 429 { #expect(Self.alert(reply) == Self.message("signin.busy", .albanian)) }
        }
        #expect(h.service.signInGate.taken == 0)
        #expect(try await Self.signIn(h, user: "busy-one").status == 303)
    }

    /// Where the demo keeps its credentials is said on the demo's login pages only (an attack
    /// pass found a production login page naming the files and the privileged user names).
    @Test func onlyTheDemoSaysWhereItsCredentialsLie() async throws {
        for demo in [false, true] {
            let h = try await Self.start { $0.showsDemoHints = demo }
            for path in ["/login", "/login?with=token"] {
                let page = try await h.api.get(path, token: nil)
                #expect(page.status == 200)
                for hint in ["persons.json", "tokens.json", "<code>natc</code>", "<code>audit</code>"] {
                    #expect(!page.text.contains(hint) || demo, "\(path) \(hint)")
                }
                #expect(page.text.contains(".json") == demo, "\(path)")
            }
            await h.stop()
        }
    }

    @Test func passwordRulesAndUserNames() {
        #expect(AccountStore.passwordProblem("short") != nil)
        #expect(AccountStore.passwordProblem(String(repeating: "é", count: 40)) != nil)  // 80 bytes > 72
        #expect(AccountStore.passwordProblem("twelve chars\u{7}") != nil)
        #expect(AccountStore.passwordProblem(Self.password) == nil)
        let generated = AccountStore.generatePassword()
        #expect(AccountStore.passwordProblem(generated) == nil && generated.count == 23)
        #expect(generated != AccountStore.generatePassword())
        for good in ["opav", "a.b_c-9", String(repeating: "a", count: 64)] {
            #expect(Identifiers.isValidUserName(good))
        }
        for bad in ["", "-a", "Opav", "a b", "a/b", String(repeating: "a", count: 65), "ä"] {
            #expect(!Identifiers.isValidUserName(bad), "\(bad)")
        }
    }

    // MARK: - Storage

    @Test func thePasswordIsABcryptHashOfCostAtLeast12AndNothingElseHoldsIt() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        try await h.service.accounts.add(
            userName: "advocate-7", role: .institution, institution: "opav", displayName: "Advocate 7",
            password: Self.password)
        let connection = try await h.db.connect()
        defer { connection.close() }
        let row = try #require(
            try await connection.query("SELECT password_hash, a::text FROM handoff.accounts a").first)
        let hash: String = try row.decode(0)
        #expect(hash.hasPrefix("$2a$"))
        let cost = try #require(Int(hash.dropFirst(4).prefix(2)))
        #expect(cost >= 12)
        #expect(!(try row.decode(1, as: String.self)).contains(Self.password))
        // The same password twice gives two hashes (a fresh salt each time).
        try await h.service.accounts.add(
            userName: "advocate-8", role: .institution, institution: "opav", displayName: "Advocate 8",
            password: Self.password)
        #expect(try await connection.query("SELECT DISTINCT password_hash FROM handoff.accounts").count == 2)
        // Refusals: the name taken, bad names and passwords, an institution account without institution.
        await #expect(throws: AccountStore.AccountError.exists("advocate-7")) {
            try await h.service.accounts.add(
                userName: "advocate-7", role: .institution, institution: "opav", displayName: "x",
                password: Self.password)
        }
        for (name, institution, password) in [
            ("Bad Name", "opav", Self.password), ("ok-name", "opav", "short"), ("ok-name", nil, Self.password),
        ] as [(String, String?, String)] {
            await #expect(throws: AccountStore.AccountError.self) {
                try await h.service.accounts.add(
                    userName: name, role: .institution, institution: institution, displayName: "x", password: password)
            }
        }
    }

    @Test func oneTimeCodeSecretsAreSealedUnderTheServerKey() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        let account = try await h.service.accounts.add(
            userName: "coordinator-3", role: .coordinator, institution: "natc", displayName: "C3",
            password: Self.password)
        let secret = Array("12345678901234567890".utf8)
        try await h.service.accounts.enrolOneTimeCode(accountId: account.id, secret: secret)
        let connection = try await h.db.connect()
        defer { connection.close() }
        let sealed = try #require(
            try await connection.query("SELECT totp_secret FROM handoff.accounts").first?.decode(0, as: ByteA.self))
        #expect(sealed.bytes.count > secret.count)
        #expect(!sealed.bytes.hexString.contains(secret.hexString))
        // Without the key derived from the system event key, pgcrypto cannot open it.
        await #expect(throws: (any Error).self) {
            _ = try await connection.query("SELECT handoff.totp_open(\(sealed), 'guess')")
        }
    }

    // MARK: - Sign-in

    @Test func aPasswordSignInStartsASessionAndTheAccessLogAndEventsRecordThePerson() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-P-1", by: "opav")
        let account = try await h.service.accounts.add(
            userName: "advocate-7", role: .institution, institution: "opav", displayName: "Advocate 7",
            password: Self.password)
        let form = try await h.api.get("/login", token: nil)
        #expect(form.status == 200)
        for field in ["user", "password", "code"] { #expect(form.text.contains("<label for=\"\(field)\">")) }
        #expect(form.text.contains("autocomplete=\"one-time-code\""))

        // The user name is matched without regard to case or surrounding spaces.
        let reply = try await Self.signIn(h, user: " Advocate-7 ")
        #expect(reply.status == 303)
        #expect(reply.header("Location") == "/")
        let session = try #require(Self.sessionCookie(reply))
        #expect(!reply.text.contains(Self.password))
        let home = try await Self.get(h, "/", session: session)
        #expect(home.status == 200)
        #expect(home.text.contains("advocate-7"))

        // The session carries the account; its principal is the person.
        let resumed = try #require(try await h.service.sessions.resume(session))
        #expect(resumed.accountId == account.id && resumed.tokenId == nil)
        #expect(resumed.principal == Principal(role: .institution, institution: "opav", user: "advocate-7"))

        // A read through the session is access-logged under the person's user name.
        #expect(try await Self.get(h, "/cases/KS-P-1", session: session).status == 200)
        let connection = try await h.db.connect()
        defer { connection.close() }
        let logged = try await connection.query(
            "SELECT \"user\", institution FROM handoff.access_log WHERE case_id = 'KS-P-1'")
        #expect(try logged.all.map { try $0.decode(0, as: String.self) }.contains("advocate-7"))

        // An event appended with the session's principal records actor.user = the user name.
        var hidden = false
        let body = Array(#"{"type":"RiskAssessed","data":{"level":"high"}}"#.utf8)
        _ = try await h.service.caseWriter.append(
            try QueryService.AppendRequest.parse(body), by: resumed.principal, to: "KS-P-1", hidden: &hidden)
        let last = try #require(try await h.store.readAll(stream: StreamName.case("KS-P-1")!).last)
        let metadata = try JSONValue.parse(Array(last.metadata.utf8))
        #expect(metadata["actor"]?["user"]?.stringValue == "advocate-7")
        #expect(metadata["actor"]?["institution"]?.stringValue == "opav")
    }

    @Test func aPersonsDashboardFormAppendsAnEventWhoseActorIsThePerson() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-P-2", by: "opav")
        try await h.service.accounts.add(
            userName: "advocate-9", role: .institution, institution: "opav", displayName: "Advocate 9",
            password: Self.password)
        let session = try #require(Self.sessionCookie(try await Self.signIn(h, user: "advocate-9")))
        let csrf = try #require(SessionTests.csrfField(try await Self.get(h, "/", session: session).text))
        let browser = DashboardFormTests.Browser(api: h.api, session: session, csrf: csrf)
        let reply = try await DashboardFormTests.act(h, browser, "KS-P-2", "RiskAssessed", [("level", "high")])
        #expect(reply.status == 303, "\(reply.status) \(reply.text.prefix(300))")
        let last = try await DashboardFormTests.last(h, "KS-P-2")
        #expect(last.type == "RiskAssessed")
        let metadata = try JSONValue.parse(Array(last.metadata.utf8))
        #expect(metadata["actor"]?["user"]?.stringValue == "advocate-9")
        #expect(metadata["actor"]?["institution"]?.stringValue == "opav")
        // The history the API returns says the same.
        let history = try await h.api.get("/v1/cases/KS-P-2/history", token: h.token("opav"))
        #expect(history.text.contains(#""user":"advocate-9""#))
    }

    @Test func passwordPlusOneTimeCodeAndEveryWayACodeIsRefused() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        let account = try await h.service.accounts.add(
            userName: "shelter-2", role: .institution, institution: "isf", displayName: "Shelter 2",
            password: Self.password)
        let secret = SecureRandom.bytes(20)
        try await h.service.accounts.enrolOneTimeCode(accountId: account.id, secret: secret)

        // No code: asked for it — counted as a failure, as a wrong password is, so that a right
        // password cannot be confirmed without the code for free.
        let none = try await Self.signIn(h, user: "shelter-2")
        #expect(none.status == 401 && Self.alert(none) == Self.message("signin.codeRequired"))
        #expect(Self.sessionCookie(none) == nil)
        let counted = try await h.db.connect()
        defer { counted.close() }
        #expect(
            try await counted.query(
                "SELECT attempts FROM handoff.sign_in_throttle WHERE name_digest = handoff.name_digest('shelter-2')"
            )
            .first?.decode(0, as: Int.self) == 1)
        try await h.service.accounts.unlock(userName: "shelter-2")
        // A wrong code, a malformed one.
        for code in [Self.wrongCode(secret), "12345", "abcdef", "1234567"] {
            let wrong = try await Self.signIn(h, user: "shelter-2", code: code)
            #expect(wrong.status == 401 && Self.alert(wrong) == Self.message("signin.wrongCode"), "\(code)")
            #expect(Self.sessionCookie(wrong) == nil)
        }
        // The code of now (spaces as apps show them are fine).
        let totp = AccountStore.totp(secret)
        let step = totp.step(at: Date().timeIntervalSince1970)
        let code = totp.code(step: step)
        let right = try await Self.signIn(h, user: "shelter-2", code: String(code.prefix(3)) + " " + code.dropFirst(3))
        #expect(right.status == 303 && Self.sessionCookie(right) != nil)
        // The same code again: refused as used.
        let replayed = try await Self.signIn(h, user: "shelter-2", code: code)
        #expect(replayed.status == 401 && Self.alert(replayed) == Self.message("signin.replayedCode"))
        #expect(Self.sessionCookie(replayed) == nil)
        // An earlier step's code, still inside the ±1 window, is refused once a later one was used
        // (as used; or as wrong if the clock has moved a step on meanwhile).
        let earlier = totp.code(step: step - 1)
        if earlier != code {
            let old = try await Self.signIn(h, user: "shelter-2", code: earlier)
            #expect(old.status == 401 && Self.sessionCookie(old) == nil)
            #expect(
                [Self.message("signin.replayedCode"), Self.message("signin.wrongCode")].contains(Self.alert(old) ?? ""))
        }
        // A wrong password with the right code is a wrong password.
        let wrongPassword = try await Self.signIn(h, user: "shelter-2", password: "not the password", code: code)
        #expect(Self.alert(wrongPassword) == Self.message("signin.wrongCredentials"))
    }

    @Test func unknownUserDisabledAccountAndWrongPasswordGetOneAnswerAndOneDelay() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        for name in ["real-person", "gone-person", "quiet-person"] {
            try await h.service.accounts.add(
                userName: name, role: .institution, institution: "pvpt", displayName: name, password: Self.password)
        }
        try await h.service.accounts.disable(userName: "gone-person")
        let wrong = try await Self.signIn(h, user: "real-person", password: "not the password")
        let unknown = try await Self.signIn(h, user: "nobody-here", password: "not the password")
        let disabled = try await Self.signIn(h, user: "gone-person")
        let garbage = try await Self.signIn(h, user: "<script>\u{0}", password: "x\u{0}y")
        for reply in [wrong, unknown, disabled, garbage] {
            #expect(reply.status == 401)
            #expect(Self.alert(reply) == Self.message("signin.wrongCredentials"))
            #expect(Self.sessionCookie(reply) == nil)
        }
        // The page differs only in the name kept in the field.
        #expect(
            wrong.text.replacingOccurrences(of: "real-person", with: "X")
                == unknown.text.replacingOccurrences(of: "nobody-here", with: "X"))
        // The server's wait is the same for each (bcrypt runs for unknown names too: a fresh salt).
        let slow = AccountStore(pool: h.store.pool, policy: SignInPolicy())
        let a = try await slow.signIn(userName: "quiet-person", password: "wrong password 1", code: nil)
        let b = try await slow.signIn(userName: "never-existed", password: "wrong password 1", code: nil)
        #expect(a.outcome == .wrongCredentials && b.outcome == .wrongCredentials)
        #expect(a.delay == b.delay && a.delay > .zero)
        let a2 = try await slow.signIn(userName: "quiet-person", password: "wrong password 2", code: nil)
        let b2 = try await slow.signIn(userName: "never-existed", password: "wrong password 2", code: nil)
        #expect(a2.delay == b2.delay)
        #expect(a2.delay > a.delay)
    }

    @Test func failuresLockTheNameKnownOrNotUntilTheLockEndsOrAnUnlock() async throws {
        let h = try await Self.start(maxFailures: 3)
        defer { Task { await h.stop() } }
        try await h.service.accounts.add(
            userName: "officer-9", role: .institution, institution: "kp-dthb", displayName: "Officer 9",
            password: Self.password)
        for name in ["officer-9", "no-such-officer"] {
            var statuses: [Int] = []
            for _ in 0..<3 { statuses.append(try await Self.signIn(h, user: name, password: "wrong password!").status) }
            #expect(statuses == [401, 401, 429], "\(name)")
            // Locked: even the right password is refused, with the lock message.
            let locked = try await Self.signIn(h, user: name)
            #expect(locked.status == 429 && Self.alert(locked) == Self.message("signin.locked"), "\(name)")
            #expect(Self.sessionCookie(locked) == nil)
        }
        let listed = try #require(try await h.service.accounts.account(named: "officer-9"))
        #expect(listed.locked)
        // The lock ends (its time passed: set in the database rather than waited for).
        let connection = try await h.db.connect()
        defer { connection.close() }
        try await connection.query(
            "UPDATE handoff.sign_in_throttle SET locked_until = clock_timestamp() - interval '1 second'")
        #expect(try await Self.signIn(h, user: "officer-9").status == 303)
        // A success forgets earlier failures: two more failures do not lock.
        for _ in 0..<2 {
            #expect(try await Self.signIn(h, user: "officer-9", password: "wrong password!").status == 401)
        }
        #expect(try await Self.signIn(h, user: "officer-9").status == 303)
        // Locked again, then lifted by an unlock, or by a password reset.
        for _ in 0..<3 { _ = try await Self.signIn(h, user: "officer-9", password: "wrong password!") }
        #expect(try await Self.signIn(h, user: "officer-9").status == 429)
        #expect(try await h.service.accounts.unlock(userName: "officer-9"))
        #expect(try await Self.signIn(h, user: "officer-9").status == 303)
        for _ in 0..<3 { _ = try await Self.signIn(h, user: "officer-9", password: "wrong password!") }
        try await h.service.accounts.resetPassword(userName: "officer-9", password: "a brand new password")
        #expect(try await Self.signIn(h, user: "officer-9", password: "a brand new password").status == 303)
        #expect(try await Self.signIn(h, user: "officer-9").status == 401)  // the old password is gone
    }

    @Test func concurrentGuessesCannotOverrunTheLimit() async throws {
        let h = try await Self.start(maxFailures: 3)
        defer { Task { await h.stop() } }
        try await h.service.accounts.add(
            userName: "target", role: .institution, institution: "ksp", displayName: "T", password: Self.password)
        let accounts = h.service.accounts
        let outcomes = try await withThrowingTaskGroup(of: AccountStore.SignInOutcome.self) { group in
            for i in 0..<12 {
                group.addTask {
                    try await accounts.signIn(userName: "target", password: "guess number \(i)", code: nil).outcome
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // At most three passwords were checked; every other guess met the lock.
        #expect(outcomes.filter { $0 == .wrongCredentials }.count <= 2)
        #expect(outcomes.filter { $0 == .locked }.count >= 9)
    }

    // MARK: - Enrolment

    @Test func aCoordinatorMustEnrolAOneTimeCodeBeforeAnythingElse() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        try await h.service.accounts.add(
            userName: "natc-lead", role: .coordinator, institution: "natc", displayName: "Coordinator",
            password: Self.password)
        let first = try await Self.signIn(h, user: "natc-lead")
        #expect(first.status == 303 && first.header("Location") == "/account/one-time-code")
        let session = try #require(Self.sessionCookie(first))
        // Nothing else is reachable: pages lead back to enrolment, the live stream is refused.
        let home = try await Self.get(h, "/", session: session)
        #expect(home.status == 303 && home.header("Location") == "/account/one-time-code")
        #expect(try await Self.get(h, "/dashboard/live", session: session).status == 401)
        #expect(try await Self.get(h, "/reports/annual?year=2026", session: session).status == 303)

        let page = try await Self.get(h, "/account/one-time-code", session: session)
        #expect(page.status == 200)
        let key = try #require(Self.attribute("data-secret", in: page.text))
        // No QR code: no image of any kind, no canvas, nothing that names one. (Random text on the
        // page — the key, the CSRF token — may hold the letters "qr" by chance.)
        for marker in ["<img", "<canvas", "<svg", "data:image", "qr code", "qr-code", "qrcode"] {
            #expect(!page.text.lowercased().contains(marker), "\(marker)")
        }
        let secret = try #require(Base32.decode(key))
        #expect(secret.count == 20)
        // The same key on a reload, until confirmed.
        #expect(
            Self.attribute("data-secret", in: try await Self.get(h, "/account/one-time-code", session: session).text)
                == key)
        let csrf = try #require(SessionTests.csrfField(page.text))
        let cookie = ("Cookie", "handoff_session=\(session)")
        func confirm(_ code: String, csrf: String, origin: String = "http://127.0.0.1") async throws -> Reply {
            try await h.api.request(
                "POST", "/account/one-time-code", json: "csrf=\(csrf)&code=\(code)", contentType: Self.form,
                headers: [cookie, ("Origin", origin)])
        }
        // Wrong code, missing CSRF token, another origin: refused, nothing enrolled.
        let wrong = try await confirm(Self.wrongCode(secret), csrf: csrf)
        #expect(wrong.status == 422 && Self.alert(wrong) == Self.message("enrol.wrongCode"))
        #expect(
            try await confirm(AccountStore.totp(secret).code(at: Date().timeIntervalSince1970), csrf: "nope").status
                == 403)
        #expect(
            try await confirm(
                AccountStore.totp(secret).code(at: Date().timeIntervalSince1970), csrf: csrf,
                origin: "https://evil.example"
            ).status == 403)
        #expect(try await h.service.accounts.account(named: "natc-lead")?.hasOneTimeCode == false)

        let code = AccountStore.totp(secret).code(at: Date().timeIntervalSince1970)
        let done = try await confirm(code, csrf: csrf)
        #expect(done.status == 303 && done.header("Location") == "/")
        #expect(try await Self.get(h, "/", session: session).status == 200)
        #expect(try await h.service.accounts.account(named: "natc-lead")?.hasOneTimeCode == true)
        let already = try await Self.get(h, "/account/one-time-code", session: session)
        #expect(
            already.text.contains(Self.message("enrol.already"))
                && Self.attribute("data-secret", in: already.text) == nil)
        // From now on the code is asked at sign-in; the enrolment's code is used up.
        #expect(Self.alert(try await Self.signIn(h, user: "natc-lead")) == Self.message("signin.codeRequired"))
        #expect(
            Self.alert(try await Self.signIn(h, user: "natc-lead", code: code)) == Self.message("signin.replayedCode"))
    }

    /// A key waiting for confirmation belongs to the session it was shown to (an attack pass: a
    /// key seen by whoever once had the first password was shown again to the real person, who
    /// confirmed it, and the copy then signed in — a password reset did not forget it).
    @Test func anEnrolmentKeyIsShownToOneSessionOnly() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        try await h.service.accounts.add(
            userName: "natc-lead", role: .coordinator, institution: "natc", displayName: "Coordinator",
            password: Self.password)
        func keyPage() async throws -> (session: String, secret: [UInt8], csrf: String) {
            let session = try #require(Self.sessionCookie(try await Self.signIn(h, user: "natc-lead")))
            let page = try await Self.get(h, "/account/one-time-code", session: session)
            let key = try #require(Self.attribute("data-secret", in: page.text))
            return (session, try #require(Base32.decode(key)), try #require(SessionTests.csrfField(page.text)))
        }
        func confirm(_ page: (session: String, secret: [UInt8], csrf: String), with secret: [UInt8]) async throws
            -> Reply
        {
            try await h.api.request(
                "POST", "/account/one-time-code",
                json: "csrf=\(page.csrf)&code=\(AccountStore.totp(secret).code(at: Date().timeIntervalSince1970))",
                contentType: Self.form,
                headers: [("Cookie", "handoff_session=\(page.session)"), ("Origin", "http://127.0.0.1")])
        }
        let attacker = try await keyPage()
        let person = try await keyPage()
        #expect(attacker.secret != person.secret)
        // The attacker's key was replaced; its session cannot confirm the person's either.
        #expect(try await confirm(attacker, with: attacker.secret).status == 422)
        #expect(try await confirm(attacker, with: person.secret).status == 422)
        // A password reset forgets a waiting key.
        let shown = try await keyPage()
        try await h.service.accounts.resetPassword(userName: "natc-lead", password: Self.password)
        let afterReset = try await keyPage()
        #expect(afterReset.secret != shown.secret)
        #expect(try await confirm(afterReset, with: afterReset.secret).status == 303)
        // Only the confirmed key signs in.
        let copy = AccountStore.totp(shown.secret).code(at: Date().timeIntervalSince1970)
        #expect(Self.sessionCookie(try await Self.signIn(h, user: "natc-lead", code: copy)) == nil)
    }

    @Test func anInstitutionPersonMayEnrolFromThePageAndTokensHaveNoCodes() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        try await h.service.accounts.add(
            userName: "ngo-1", role: .institution, institution: "pvpt", displayName: "NGO 1", password: Self.password)
        let session = try #require(Self.sessionCookie(try await Self.signIn(h, user: "ngo-1")))
        let home = try await Self.get(h, "/", session: session)
        #expect(home.status == 200 && home.text.contains("href=\"/account/one-time-code\""))
        let page = try await Self.get(h, "/account/one-time-code", session: session)
        #expect(page.text.contains(Self.message("enrol.optional")))
        // A token's session has no account: no link, and the page refuses.
        let tokenSession = try #require(try await DashboardTests.signIn(h.api, token: h.token("opav")))
        #expect(!(try await Self.get(h, "/", session: tokenSession).text.contains("/account/one-time-code")))
        #expect(try await Self.get(h, "/account/one-time-code", session: tokenSession).status == 403)
    }

    static func attribute(_ name: String, in html: String) -> String? {
        guard let range = html.range(of: name + "=\"") else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    // MARK: - Revocation

    @Test func disablingOrResettingAnAccountEndsItsSessionsAndTheirLiveStream() async throws {
        let h = try await Self.start { $0.streamRecheckInterval = .milliseconds(300) }
        defer { Task { await h.stop() } }
        for name in ["to-disable", "to-reset"] {
            try await h.service.accounts.add(
                userName: name, role: .institution, institution: "csw-prishtina", displayName: name,
                password: Self.password)
        }
        // Administration happens in another process (the CLI): its own pool and store.
        let pool = ConnectionPool(url: h.db.url, maximumConnections: 1)
        defer { Task { await pool.close() } }
        let elsewhere = AccountStore(pool: pool)
        for name in ["to-disable", "to-reset"] {
            let session = try #require(Self.sessionCookie(try await Self.signIn(h, user: name)))
            let other = try #require(Self.sessionCookie(try await Self.signIn(h, user: name)))
            #expect(try await Self.get(h, "/", session: session).status == 200)
            let port = h.api.port
            let live = try await blocking { () throws -> (SocketClient, Reply) in
                let client = try SocketClient(port: port, timeout: 20)
                try client.send(
                    "GET /dashboard/live HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: handoff_session=\(session)\r\n\r\n")
                return (client, try client.readHead())
            }
            #expect(live.1.status == 200)
            let ended =
                name == "to-disable"
                ? try await elsewhere.disable(userName: name)
                : try await elsewhere.resetPassword(userName: name, password: "another long password")
            #expect(ended == 2, "\(name): both sessions ended")
            #expect(try await Self.get(h, "/", session: session).status == 303)
            #expect(try await Self.get(h, "/", session: other).status == 303)
            // The login page says why.
            let login = try await Self.get(h, "/login", session: session)
            #expect(Self.alert(login) == Self.message("signin.sessionEnded"))
            let rest = try await blocking { try StreamLimitTests.readUntilEnd(live.0, within: .seconds(15)) }
            #expect(rest.ended, "\(name): the live stream ended")
        }
        // A disabled account cannot sign in again; the reset one can, with its new password only.
        #expect(try await Self.signIn(h, user: "to-disable").status == 401)
        #expect(try await Self.signIn(h, user: "to-reset", password: "another long password").status == 303)
    }

    // MARK: - Languages, logs, bad input

    @Test func everySignInMessageIsInThePersonsLanguage() async throws {
        let h = try await Self.start(maxFailures: 2)
        defer { Task { await h.stop() } }
        let account = try await h.service.accounts.add(
            userName: "polyglot", role: .institution, institution: "iom-kosovo", displayName: "P",
            password: Self.password)
        let secret = SecureRandom.bytes(20)
        try await h.service.accounts.enrolOneTimeCode(accountId: account.id, secret: secret)
        for language in [Language.albanian, .serbianLatin, .english] {
            let query = "?lang=\(language.tag)"
            let form = try await h.api.get("/login" + query, token: nil)
            #expect(
                form.text.contains("lang=\"\(language.tag)\"")
                    && form.text.contains(Self.message("signin.password", language)))
            let wrong = try await Self.signIn(h, user: "polyglot", password: "not the password", query: query)
            #expect(Self.alert(wrong) == Self.message("signin.wrongCredentials", language), "\(language)")
            try await h.service.accounts.unlock(userName: "polyglot")
            let noCode = try await Self.signIn(h, user: "polyglot", query: query)
            #expect(Self.alert(noCode) == Self.message("signin.codeRequired", language))
            let badCode = try await Self.signIn(h, user: "polyglot", code: Self.wrongCode(secret), query: query)
            #expect(Self.alert(badCode) == Self.message("signin.locked", language), "the second failure locks")
            let locked = try await Self.signIn(h, user: "polyglot", query: query, headers: [("Accept-Language", "en")])
            #expect(Self.alert(locked) == Self.message("signin.locked", language))
            try await h.service.accounts.unlock(userName: "polyglot")
            let wrongCode = try await Self.signIn(h, user: "polyglot", code: Self.wrongCode(secret), query: query)
            #expect(Self.alert(wrongCode) == Self.message("signin.wrongCode", language))
            try await h.service.accounts.unlock(userName: "polyglot")
        }
        // Accept-Language alone chooses too.
        let serbian = try await Self.signIn(h, user: "nobody", headers: [("Accept-Language", "sr-Latn")])
        #expect(Self.alert(serbian) == Self.message("signin.wrongCredentials", .serbianLatin))
    }

    @Test func eachAttemptIsLoggedWithUserOutcomeAndRequestIdButNeverThePasswordOrCode() async throws {
        let capture = LogCapture()
        let h = try await Self.start(logger: Logger(label: "service", sink: capture, logLevel: .info))
        defer { Task { await h.stop() } }
        let account = try await h.service.accounts.add(
            userName: "logged-one", role: .institution, institution: "opav", displayName: "L", password: Self.password)
        let secret = SecureRandom.bytes(20)
        try await h.service.accounts.enrolOneTimeCode(accountId: account.id, secret: secret)
        let code = AccountStore.totp(secret).code(at: Date().timeIntervalSince1970)
        let wrongPassword = "hunter2 wrong guess"
        _ = try await Self.signIn(h, user: "logged-one", password: wrongPassword, headers: [("X-Request-Id", "req-1")])
        _ = try await Self.signIn(h, user: "nobody-at-all", password: wrongPassword)
        _ = try await Self.signIn(h, user: "logged-one", code: Self.wrongCode(secret))
        let ok = try await Self.signIn(h, user: "logged-one", code: code)
        let session = try #require(Self.sessionCookie(ok))
        _ = try await Self.signIn(h, user: "logged-one", code: code)
        // A password typed into the name field, and a token (an attack pass found both logged and
        // stored in the throttle's table in clear): neither reaches a log or a table.
        let typedPassword = "9vkcr-d2hq5-cxfrp-2s4qx"
        let typedToken = "hnd_rg9buma5innqlil3oibeqz2zzcswrzadx0yf0poolqc"
        _ = try await Self.signIn(h, user: typedPassword, password: wrongPassword)
        _ = try await Self.signIn(h, user: typedToken, password: wrongPassword)
        let attempts = capture.records.filter { $0.message == "sign-in attempt" }
        #expect(
            attempts.map { $0.metadata["outcome"]?.description ?? "" }
                == [
                    "wrong-credentials", "wrong-credentials", "wrong-code", "signed-in", "replayed-code",
                    "wrong-credentials", "wrong-credentials",
                ])
        #expect(attempts.map { $0.metadata["user"]?.description ?? "" }.first == "logged-one")
        #expect(attempts[1].metadata["user"]?.description != "nobody-at-all")
        let connection = try await h.db.connect()
        defer { connection.close() }
        let stored = try await connection.query("SELECT name_digest FROM handoff.sign_in_throttle")
        let names: [String] = try stored.all.map { try $0.decode(0) }
        #expect(!names.isEmpty && names.allSatisfy { $0.count == 64 && !$0.contains("-") })
        #expect(attempts.first?.metadata["request"]?.description == "req-1")
        #expect(attempts.allSatisfy { $0.metadata["request"] != nil })
        for line in capture.lines(.json) + capture.lines(.text) {
            for secretText in [
                Self.password, wrongPassword, code, session, "password=", Base32.encode(secret), typedPassword,
                typedToken,
            ] {
                #expect(!line.contains(secretText), "a log line holds a secret: \(line)")
            }
        }
    }

    @Test func badInputIsAnsweredAndNothingBreaks() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        try await h.service.accounts.add(
            userName: "sturdy", role: .institution, institution: "opav", displayName: "S", password: Self.password)
        let long = String(repeating: "p", count: 5000)
        for body in [
            "", "user=sturdy", "password=x", "user=sturdy&password=%00", "user=%00&password=x",
            "user=sturdy&password=\(long)", "user=\(long)&password=x", "user=sturdy&password=%E2%82",
            "user=sturdy&password=\(Self.encode(Self.password))\(String(repeating: "x", count: 60))",
            "user=sturdy&user=other&password=x", "user=sturdy&password=x&code=%00%00",
        ] {
            try await h.service.accounts.unlock(userName: "sturdy")  // each body on its own, not a lockout test
            let reply = try await h.api.request(
                "POST", "/login", json: body, contentType: Self.form, headers: [("Origin", "http://127.0.0.1")])
            #expect(reply.status == 401, "\(body.prefix(60))")
            #expect(Self.sessionCookie(reply) == nil)
        }
        // From another site: refused before anything is checked.
        let foreign = try await Self.signIn(h, user: "sturdy", origin: "https://evil.example")
        #expect(foreign.status == 403 && Self.sessionCookie(foreign) == nil)
        #expect(Self.alert(foreign) == Self.message("login.foreignOrigin") && foreign.text.contains("id=\"password\""))
        // And the service still serves the right password.
        #expect(try await Self.signIn(h, user: "sturdy").status == 303)
    }
}
