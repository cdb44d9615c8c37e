import EventStore
import Foundation
import Postgres
import Referrals
import ServiceStore

/// The one way case events get into the log, for the HTTP API and the operator's
/// `handoff append` alike: a chosen case id only under the caller's own prefix, the need-to-know
/// and write policy, admission against the case's own stream (time of record, consent, the
/// referral steps), and the append with the version admission saw, so a concurrent writer can
/// never slip an event between the authorization and the append.
public struct CaseWriter: Sendable {
    let store: EventStore
    let access: CaseAccess
    let institutions: InstitutionRegistry
    let rulesets: RulesetRegistry
    /// The prefix of server-issued case ids, which no institution may choose.
    let caseIdPrefix: String
    let allowedClockSkew: TimeInterval
    /// What each institution's appends may cost the projector (``AppendBudgetPolicy``).
    let budget: AppendBudget

    /// - Parameters:
    ///   - caseIdPrefix: the prefix of server-issued ids (`KS`).
    ///   - allowedClockSkew: how far `occurredAt` may lie in the future.
    ///   - budget: what each institution's appends may cost the projector.
    public init(
        store: EventStore, caseIdPrefix: String = "KS", allowedClockSkew: TimeInterval = 300,
        budget: AppendBudgetPolicy = AppendBudgetPolicy()
    ) {
        self.init(
            store: store, access: CaseAccess(store: store), institutions: InstitutionRegistry(store: store),
            rulesets: RulesetRegistry(store: store), caseIdPrefix: caseIdPrefix, allowedClockSkew: allowedClockSkew,
            budget: budget)
    }

    init(
        store: EventStore, access: CaseAccess, institutions: InstitutionRegistry, rulesets: RulesetRegistry,
        caseIdPrefix: String, allowedClockSkew: TimeInterval, budget: AppendBudgetPolicy
    ) {
        self.store = store
        self.access = access
        self.institutions = institutions
        self.rulesets = rulesets
        self.caseIdPrefix = caseIdPrefix
        self.allowedClockSkew = allowedClockSkew
        self.budget = AppendBudget(policy: budget)
    }

    /// Appends `events` for `institution`, spending from its budget what `admitted` costs the
    /// case in `state` before the append and giving it back when nothing was written (a retry
    /// the store answered with the original result, a conflict, an error).
    /// - Returns: nil, without appending, when the budget is spent (``AppendBudget/spend(_:from:now:)``
    ///   says how long to wait in `refused`).
    func appendSpending(
        _ admitted: [CaseEvent], to state: CaseState?, by institution: String, refused: inout Duration?,
        _ append: () async throws -> AppendResult
    ) async throws -> AppendResult? {
        let cost = AppendBudgetPolicy.cost(of: admitted, to: state, by: institution, at: Date())
        if let wait = budget.spend(cost, from: institution) {
            refused = wait
            return nil
        }
        let result: AppendResult
        do { result = try await append() } catch {
            budget.refund(cost, to: institution)
            throw error
        }
        if result.deduplicated { budget.refund(cost, to: institution) }
        return result
    }

    /// `handoff append` on a case stream: one event for `institution`, admitted exactly as the API
    /// admits it, stored with the operator's name beside the actor (`metadata.operator`).
    ///
    /// - Throws: ``ServiceError`` as the API would answer (its `code` and `message`).
    public func appendAsOperator(
        caseId: String, type: String, data: JSONValue, id: UUID?, expected: ExpectedVersion, institution: String,
        user: String, operatorName: String
    ) async throws -> AppendResult {
        let item = QueryService.AppendItem(
            id: id ?? UUID(), idGiven: id != nil, type: type, data: data, occurredAt: nil, correlationId: nil,
            causationId: nil)
        let request = QueryService.AppendRequest(
            items: [item], batch: false, expected: expected,
            expectedJSON: ServiceError.expectedJSON(expected.description))
        var hidden = false
        return try await append(
            request, by: .institution(institution, user: user), to: caseId, operatorName: operatorName,
            hidden: &hidden)
    }

    /// Admits and appends `parsed` to the case for `principal`.
    ///
    /// - Parameter hidden: set when the case is hidden from the caller (missing, not a party, or an
    ///   id it may not choose), so that a refusal is logged as a denied attempt.
    func append(
        _ parsed: QueryService.AppendRequest, by principal: Principal, to caseId: String, operatorName: String? = nil,
        hidden: inout Bool
    ) async throws -> AppendResult {
        guard principal.role == .institution, let institution = principal.institution else {
            hidden = true
            throw ServiceError.forbidden("Only institutions append case events.")
        }
        guard let stream = StreamName.case(caseId) else { throw ServiceError.badRequest("Invalid case id.") }
        if parsed.items.contains(where: { $0.type == CaseEventType.caseOpened.rawValue }) {
            // Opening under a chosen id: only within the caller's own registered prefix, decided
            // before the case is looked up, so the answer says nothing about which ids exist. From
            // the registry as read at most 2 s ago; read afresh before a refusal.
            func mayChoose(fresh: Bool) async throws -> Bool {
                try await institutions.institution(institution, fresh: fresh)?.mayChooseCaseId(
                    caseId, serverPrefix: caseIdPrefix) ?? false
            }
            var allowed = try await mayChoose(fresh: false)
            if !allowed { allowed = try await mayChoose(fresh: true) }
            guard allowed else {
                hidden = true
                throw ServiceError.forbidden(
                    "Open cases with POST /v1/cases (the server issues the id); a chosen id must start with the "
                        + "institution's own registered case-id prefix.")
            }
        }
        let correlation = UUID()
        let newEvents = parsed.items.map { item in
            NewEvent(
                id: item.id, type: item.type, data: item.data.serializedString(),
                metadata: EventMetadata(
                    actor: EventActor(institution: institution, user: principal.user),
                    correlationId: item.correlationId ?? correlation, causationId: item.causationId,
                    operatorName: operatorName),
                occurredAt: item.occurredAt)
        }
        if let result = try await appendToKnownState(
            parsed, by: principal, institution: institution, to: caseId, stream: stream, events: newEvents,
            hidden: &hidden)
        {
            return result
        }
        for attempt in 0..<64 {
            if attempt > 1 {
                // Contention on one case: back off a little, with jitter, before admitting again.
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(2 * min(attempt, 20)))))
            }
            var loaded = try await access.loadFold(caseId: caseId)
            let notParty = loaded.state.map { !$0.isParty(institution) } ?? false
            if notParty {
                // A non-party is answered exactly as if the case did not exist — same checks in
                // the same order, same status and body — so that case ids cannot be probed.
                loaded = CaseAccess.CaseFold(state: nil, version: 0)
                hidden = true
            } else {
                hidden = loaded.state == nil
            }
            // A retry of an earlier append gets the store's answer: the original result or a
            // conflict. Asked only when the request would otherwise be refused — when it is
            // admitted, the store's own dedupe answers a retry the same way, one query sooner.
            func retried() async throws -> AppendResult? {
                guard try await store.containsAny(ids: parsed.items.filter(\.idGiven).map(\.id)) else { return nil }
                return try await store.append(to: stream, expected: parsed.expected, events: newEvents)
            }
            let actual = loaded.version
            guard parsed.expected.isMet(byVersion: actual) else {
                if let result = try await retried() { return result }
                throw ServiceError.wrongExpectedVersion(expected: parsed.expectedJSON, actual: actual)
            }
            let admitted: [CaseEvent]
            do {
                admitted = try await admit(
                    parsed, principal: principal, caseId: caseId, state: loaded.state, actual: actual)
            } catch {
                if let result = try await retried() { return result }
                throw error
            }
            if notParty {
                // Admitted as if the case were new (a CaseOpened), but it exists: refused as a
                // missing case's first event other than CaseOpened is.
                throw ServiceError.from(CasePolicy.noSuchCase)
            }
            var refused: Duration?
            do {
                if let result = try await appendSpending(
                    admitted, to: loaded.state, by: institution, refused: &refused,
                    { try await store.append(to: stream, expected: .exactly(actual), events: newEvents) })
                {
                    return result
                }
            } catch EventStoreError.wrongExpectedVersion(_, let now) {
                switch parsed.expected {
                case .exactly, .noStream:
                    throw ServiceError.wrongExpectedVersion(expected: parsed.expectedJSON, actual: now)
                case .any, .exists:
                    continue  // someone appended meanwhile: admit again against the new state
                }
            }
            // The budget is spent. A retry of an append that was written is answered as one, whatever the balance.
            if let result = try await retried() { return result }
            throw ServiceError.tooManyAppends(retryAfter: refused ?? .seconds(1))
        }
        throw ServiceError.wrongExpectedVersion(
            expected: parsed.expectedJSON, actual: try await store.version(of: stream))
    }

    /// The append against the case's fold kept in memory, without reading its stream first: when
    /// the caller is a party to the case as folded (or opens a case not known here), its expected
    /// version is met and every event is admitted against that state, the events are appended
    /// with the fold's version as the expected one. The stream at that version is exactly the
    /// folded state, so what is written was admitted against the state it lands on, as on the
    /// path that reads first; a stream that moved on refuses the append and nothing is written.
    /// Nil — and nothing written — when there is no such fold, when anything would be refused
    /// against it, or when the stream moved on: the caller then reads the stream, and only what
    /// it reads decides a refusal. After an append, the fold is brought up to date in the
    /// background, ready for the case's next append.
    private func appendToKnownState(
        _ parsed: QueryService.AppendRequest, by principal: Principal, institution: String, to caseId: String,
        stream: StreamName, events: [NewEvent], hidden: inout Bool
    ) async throws -> AppendResult? {
        let opening = parsed.items.first?.type == CaseEventType.caseOpened.rawValue
        guard
            let fold = access.cachedFold(caseId: caseId)
                ?? (opening ? CaseAccess.CaseFold(state: nil, version: 0) : nil),
            fold.state?.isParty(institution) ?? true, parsed.expected.isMet(byVersion: fold.version)
        else { return nil }
        let admitted: [CaseEvent]
        do {
            admitted = try await admit(
                parsed, principal: principal, caseId: caseId, state: fold.state, actual: fold.version,
                refreshingRegistry: false)
        } catch {
            return nil
        }
        hidden = fold.state == nil
        do {
            // Over budget: the path that reads first answers (a retry's result, or 429).
            var refused: Duration?
            guard
                let result = try await appendSpending(
                    admitted, to: fold.state, by: institution, refused: &refused,
                    { try await store.append(to: stream, expected: .exactly(fold.version), events: events) })
            else { return nil }
            if !result.deduplicated, result.events.count == admitted.count {
                // The fold after the append is the admitted events applied to the fold before it,
                // each as stored (an occurredAt left to the server is its time of record): no read.
                var state = fold.state
                for (i, stored) in result.events.enumerated() {
                    var event = admitted[i]
                    event.occurredAt =
                        parsed.items[i].occurredAt == nil
                        ? stored.recordedAt : PostgresTimestamp.stored(event.occurredAt)
                    event.recordedAt = stored.recordedAt
                    state = CaseState.applying(event, to: state, caseId: caseId)
                }
                access.remember(CaseAccess.CaseFold(state: state, version: result.streamVersion), caseId: caseId)
            } else {
                Task { [access] in _ = try? await access.loadFold(caseId: caseId) }
            }
            return result
        } catch EventStoreError.wrongExpectedVersion {
            return nil
        }
    }

    /// Runs every event through `CaseAdmission`, folding each into the state before the next.
    ///
    /// - Parameter refreshingRegistry: on a refusal, read the registry's newest events once and
    ///   admit again before answering (an institution registered a moment ago).
    @discardableResult
    private func admit(
        _ parsed: QueryService.AppendRequest, principal: Principal, caseId: String, state: CaseState?, actual: Int64,
        refreshingRegistry: Bool = true
    ) async throws -> [CaseEvent] {
        let now = Date()
        var context = AdmissionContext(
            institutions: try await institutions.known(), now: now,
            allowedClockSkew: allowedClockSkew, rulesets: try await rulesets.current(now: now))
        var state = state
        var i = 0
        var refreshed = !refreshingRegistry
        var admitted: [CaseEvent] = []
        while i < parsed.items.count {
            let item = parsed.items[i]
            let outcome = Result<CaseEvent, ReferralsError> { () throws(ReferralsError) -> CaseEvent in
                try CaseAdmission.admit(
                    principal: principal, caseId: caseId, state: state, id: item.id, type: item.type,
                    data: item.data, occurredAt: item.occurredAt ?? now, context: context)
            }
            switch outcome {
            case .success(let event):
                state = CaseState.applying(event, to: state, caseId: caseId)
                admitted.append(event)
                i += 1
            case .failure(let error):
                // Refused against the institutions known here: read the registry's newest events
                // once and admit this event again before answering.
                if !refreshed {
                    refreshed = true
                    if let changed = try await institutions.changed(since: context.institutions) {
                        context.institutions = changed
                        continue
                    }
                }
                throw QueryService.admissionError(error, index: parsed.batch ? i : nil, actual: actual)
            }
        }
        return admitted
    }
}
