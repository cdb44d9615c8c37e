@testable import ServiceStore
import LoopbackHTTPClient
import EventStore
import Foundation
import HTTP
import Logging
import HandoffTestSupport
import Postgres
import QueryService
import Referrals

/// A running service on a fresh database of its own: the demo institutions registered, a token
/// for each (`natc` a coordinator, `audit` an auditor), listening on a free loopback port.
struct Harness: Sendable {
    let db: TestDB
    let store: EventStore
    let service: QueryService
    let wakeups: Wakeups
    let api: API
    let tokens: [String: String]
    /// The read replica's pool, when the service reads from one.
    var replicaPool: ConnectionPool? = nil

    static let institutionIds = ["kp-dthb", "ksp", "opav", "csw-prishtina", "isf", "pvpt", "iom-kosovo"]

    /// - Parameter replica: a fresh database and its URL on a hot standby (`ReplicatedCluster.make()`):
    ///   the service runs on that database and reads from the standby (`ReadReplica`).
    static func start(
        readSide: any ReadSide = EmptyReadSide(), heartbeat: Duration = .milliseconds(400),
        url: String? = nil, db existing: TestDB? = nil, tokenCacheTTL: Duration = .seconds(5),
        accessLogQueueCapacity: Int = 20_000, logger: Logger = Logger(label: "service", logLevel: .warning),
        replica: (db: TestDB, url: String)? = nil,
        configure: (inout QueryServiceConfiguration) -> Void = { _ in }
    ) async throws -> Harness {
        let db: TestDB
        if let existing {
            db = existing
        } else if let replica {
            db = replica.db
        } else {
            db = try await TestDatabase.make()
        }
        let replicaPool = replica.map { ConnectionPool(url: $0.url, maximumConnections: 8, connectTimeout: 2) }
        let pool = ConnectionPool(url: url ?? db.url, maximumConnections: 8, connectTimeout: 2)
        let store = EventStore(pool: pool)
        let wakeups = Wakeups()
        await wakeups.startListening(url: db.url)
        var configuration = QueryServiceConfiguration(
            http: HTTPServerConfiguration(host: "127.0.0.1", port: 0, shutdownGracePeriod: .seconds(1)),
            heartbeatInterval: heartbeat, pollInterval: .milliseconds(200), tokenCacheTTL: tokenCacheTTL,
            accessLogQueueCapacity: accessLogQueueCapacity, logger: logger)
        configure(&configuration)
        let service = QueryService(
            configuration: configuration,
            store: store, readSide: readSide, wakeups: wakeups, metricsHook: { "handoff_projector_lag_events 0\n" },
            replica: replicaPool.map { pool in
                // The read models as the standby holds them (or none, as on the primary).
                ReadReplica(pool: pool, readSide: readSide is EmptyReadSide ? readSide : ProjectionReadSide(pool: pool))
            })
        // The registry, as the demo seeds it (through the store: institutions are not case events).
        let setupStore = db.store(poolSize: 2)
        let registrations = Institution.demo.map(Harness.registration)
        if existing == nil {
            _ = try await setupStore.append(to: .institutions, expected: .noStream, events: registrations)
        }
        var tokens: [String: String] = [:]
        let tokenStore = TokenStore(pool: setupStore.pool)
        for id in institutionIds {
            tokens[id] = try await tokenStore.create(role: .institution, institution: id, user: "\(id)-officer")
        }
        tokens["natc"] = try await tokenStore.create(role: .coordinator, institution: "natc", user: "coordinator-1")
        tokens["audit"] = try await tokenStore.create(role: .auditor, institution: "audit", user: "auditor-1")
        tokens["metrics"] = try await tokenStore.createMetricsToken(user: "prometheus").token
        await setupStore.pool.close()
        let port = try await service.start()
        return Harness(
            db: db, store: store, service: service, wakeups: wakeups, api: API(port: port), tokens: tokens,
            replicaPool: replicaPool)
    }

    func stop() async {
        await service.shutdown()
        await wakeups.stop()
        await store.pool.close()
        await replicaPool?.close()
    }

    func token(_ id: String) -> String { tokens[id]! }

    /// Waits until every committed event is readable in gap-free order. The gap-free head stops
    /// below the oldest running transaction of the whole cluster, and the tests share one
    /// cluster, so another test's open transaction can briefly hide events just appended here.
    func settle() async throws {
        let connection = try await db.connect()
        defer { connection.close() }
        let newest = try await connection.query(
            "SELECT xid::text, position FROM handoff.events ORDER BY events.xid DESC, events.position DESC LIMIT 1")
        guard let row = newest.first else { return }
        let last = Cursor(xid: try row.decode(0), position: try row.decode(1))
        for _ in 0..<200 {
            if try await store.headCursor() >= last { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ClientError(description: "events did not become readable in 10 s")
    }

    // MARK: - Domain helpers (synthetic data only)

    static func openedJSON(id: UUID? = nil, child: Bool = false, expected: String? = nil, occurredAt: String? = nil)
        -> String
    {
        var s = "{"
        if let id { s += "\"id\":\"\(id.uuidString.lowercased())\"," }
        if let expected { s += "\"expectedVersion\":\(expected)," }
        if let occurredAt { s += "\"occurredAt\":\"\(occurredAt)\"," }
        s += #""type":"CaseOpened","data":{"identificationStatus":"presumed","profile":{"sex":"female","ageBand":"#
        s += child ? #""15-17","child":true"# : #""18-24","child":false"#
        s += #","nationality":"XK","exploitation":["sexual"]}}}"#
        return s
    }

    /// The body of `POST /v1/cases`: the `CaseOpened` data, with an optional event id.
    /// The `InstitutionRegistered` event that registers `institution`, as the demo seeds it.
    static func registration(_ institution: Institution) -> NewEvent {
        NewEvent(
            type: "InstitutionRegistered",
            data: SystemEventBody.institutionRegistered(institution).data.serializedString(),
            metadata: EventMetadata(actor: EventActor(institution: "natc", user: "setup")))
    }

    static func openedData(id: UUID? = nil, occurredAt: String? = nil) -> String {
        var s = "{"
        if let id { s += "\"id\":\"\(id.uuidString.lowercased())\"," }
        if let occurredAt { s += "\"occurredAt\":\"\(occurredAt)\"," }
        s += #""identificationStatus":"presumed","profile":{"sex":"female","ageBand":"18-24","child":false,"#
        s += #""nationality":"XK","exploitation":["sexual"]}}"#
        return s
    }

    static func referralJSON(_ referralId: String, to: String, id: UUID? = nil) -> String {
        let idPart = id.map { "\"id\":\"\($0.uuidString.lowercased())\"," } ?? ""
        return
            "{\(idPart)\"type\":\"ReferralIssued\",\"data\":{\"referralId\":\"\(referralId)\",\"to\":\"\(to)\",\(referralPurpose(to: to)),\"urgency\":\"routine\"}}"
    }

    /// A purpose the default ruleset lets a referral to `to` have without a recorded consent: the
    /// consent-free purpose the recipient's kind serves (ReferralPurpose.recipientKinds), else
    /// legal aid under a consent override.
    static func referralPurpose(to: String) -> String {
        switch to {
        case "opav": #""purpose":"victim-advocacy""#
        case "ksp": #""purpose":"prosecution""#
        case "kp-dthb": #""purpose":"investigation""#
        case "csw-prishtina": #""purpose":"guardianship""#
        default: #""purpose":"legal-aid","consentOverride":{"reason":"other"}"#
        }
    }

    /// Opens a case under a chosen id for a test's setup: through the store, as the institution's
    /// officer (the API opens cases under server-issued ids or the institution's own prefix, which
    /// AppendTests and OpenCaseTests test).
    @discardableResult
    func openCase(_ caseId: String, by institution: String = "kp-dthb", occurredAt: Date? = nil) async throws
        -> AppendResult
    {
        let data = try JSONValue.parse(Array(Self.openedJSON().utf8))["data"]!
        return try await store.append(
            to: .case(caseId)!, expected: .noStream,
            events: [
                NewEvent(
                    type: "CaseOpened", data: data.serializedString(),
                    metadata: EventMetadata(
                        actor: EventActor(institution: institution, user: "\(institution)-officer")),
                    occurredAt: occurredAt)
            ])
    }

    @discardableResult
    func refer(_ caseId: String, _ referralId: String, to: String, by institution: String = "kp-dthb") async throws
        -> Reply
    {
        let reply = try await api.post(
            "/v1/cases/\(caseId)/events", token: token(institution), Self.referralJSON(referralId, to: to))
        guard reply.status == 201 else {
            throw ClientError(description: "referral failed: \(reply.status) \(reply.text)")
        }
        return reply
    }
}

extension JSONValue {
    var int: Int? { numberValue?.intValue }
    var array: [JSONValue] { arrayValue ?? [] }
}
