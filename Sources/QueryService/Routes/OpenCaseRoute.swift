import EventStore
import Foundation
import HTTP
import Referrals
import ServiceStore

/// `POST /v1/cases`: opens a case under an id the server issues (`KS-2026-000123`, one sequence
/// per prefix and year), so that no institution can take an id another is about to use.
///
/// The body is the `CaseOpened` data, with an optional event `id` (for retries) and `occurredAt`:
/// `{"identificationStatus": "presumed", "profile": {…}, "id": "uuid", "occurredAt": "…"}`.
/// 201 `{"caseId", "streamVersion", "events"}`. A retry with the same `id` and content answers 200
/// with the case it opened the first time; the same `id` with other content, 409
/// `duplicate_event_id`.
extension QueryService {
    func openCase(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        guard principal.role == .institution else { throw ServiceError.forbidden("Only institutions open cases.") }
        try Self.requireJSON(request)
        let json: JSONValue
        do { json = try JSONValue.parse(request.body) } catch { throw ServiceError.from(error) }
        guard let data = json.objectValue else {
            throw ServiceError.invalidEvent("The body must be a JSON object.", field: "body")
        }
        let opened = try await openCase(data, by: principal)
        return appended(opened.result, leading: [("caseId", .string(opened.caseId))])
    }

    /// Opens a case for `principal` under an id the server issues: the one path of `POST /v1/cases`
    /// and the dashboard's form. `body` is the `CaseOpened` data with the optional envelope members
    /// `id` and `occurredAt`.
    ///
    /// - Returns: the case's id and the append's result (`deduplicated` for a retry with the same
    ///   event `id` and content, which names the case it opened the first time).
    /// - Throws: ``ServiceError`` as `POST /v1/cases` answers (403 for a non-institution, 400
    ///   `invalid_event` with the field, 409 `duplicate_event_id`, 503).
    func openCase(_ body: JSONObject, by principal: Principal) async throws -> (caseId: String, result: AppendResult) {
        guard principal.role == .institution, let institution = principal.institution else {
            throw ServiceError.forbidden("Only institutions open cases.")
        }
        var data = body
        // The envelope's members; the rest is the CaseOpened data, checked by the vocabulary.
        let item = try AppendRequest.parseItem(
            .object(
                JSONObject(
                    [("type", "CaseOpened"), ("data", .object(JSONObject()))]
                        + ["id", "occurredAt"].compactMap { key in data[key].map { (key, $0) } })),
            prefix: "", allowExpected: false)
        data["id"] = nil
        data["occurredAt"] = nil
        let now = Date()
        let occurredAt = item.occurredAt ?? now
        let event = NewEvent(
            id: item.id, type: "CaseOpened", data: JSONValue.object(data).serializedString(),
            metadata: EventMetadata(
                actor: EventActor(institution: institution, user: principal.user), correlationId: UUID()),
            occurredAt: item.occurredAt)

        // A retry of an opening that was made: the same event again on the same stream answers
        // with the original result (or a conflict if the content differs).
        if item.idGiven, let existing = try await store.stream(ofEvent: item.id) {
            return try await retriedOpening(existing, event: event)
        }
        // Admitted before a number is issued, so a refused body spends none. The placeholder id is
        // never stored: admission of a CaseOpened does not depend on the id beyond its format.
        var context = AdmissionContext(
            institutions: try await institutions.known(), now: now,
            allowedClockSkew: configuration.allowedClockSkew, rulesets: try await rulesets.current(now: now))
        func admit() throws(ReferralsError) -> CaseEvent {
            try CaseAdmission.admit(
                principal: principal, caseId: configuration.caseIdPrefix + "-0000-000000", state: nil, id: item.id,
                type: "CaseOpened", data: .object(data), occurredAt: occurredAt, context: context)
        }
        let opening: CaseEvent
        do {
            opening = try admit()
        } catch let error where error.code == .forbidden {
            // Perhaps registered a moment ago: read the registry's newest events once.
            guard let changed = try await institutions.changed(since: context.institutions) else {
                throw Self.admissionError(error, index: nil, actual: 0)
            }
            context.institutions = changed
            do { opening = try admit() } catch { throw Self.admissionError(error, index: nil, actual: 0) }
        } catch {
            throw Self.admissionError(error, index: nil, actual: 0)
        }
        // An opening is charged as any append is (``AppendBudgetPolicy``): spent before a case id is
        // issued (openings sent at once past the budget used up numbers nobody got: gaps that look
        // like deleted cases), and given back when nothing was written.
        let cost = AppendBudgetPolicy.cost(of: [opening], to: nil, by: institution, at: Date())
        if let wait = caseWriter.budget.spend(cost, from: institution) {
            throw ServiceError.tooManyAppends(retryAfter: wait)
        }
        var written = false
        defer { if !written { caseWriter.budget.refund(cost, to: institution) } }
        for _ in 0..<3 {
            let caseId = try await store.issueCaseId(prefix: configuration.caseIdPrefix, year: issuingYear(now))
            do {
                let result = try await store.append(to: .case(caseId)!, expected: .noStream, events: [event])
                written = !result.deduplicated
                return (caseId, result)
            } catch EventStoreError.wrongExpectedVersion {
                continue  // a stream under that id appeared meanwhile (written outside the sequence)
            } catch EventStoreError.duplicateEventId {
                // A concurrent request with the same event id won: answer as its retry.
                guard let existing = try await store.stream(ofEvent: item.id) else { throw ServiceError.unavailable }
                return try await retriedOpening(existing, event: event)
            }
        }
        throw ServiceError.unavailable
    }

    /// The answer to a retried `POST /v1/cases` whose event is stored in `stream`.
    private func retriedOpening(_ stream: String, event: NewEvent) async throws -> (
        caseId: String, result: AppendResult
    ) {
        guard let name = StreamName(stream), let caseId = CaseAccess.caseId(ofStream: stream),
            stream.hasPrefix("case-")
        else {
            throw ServiceError.from(EventStoreError.duplicateEventId(event.id.uuidString.lowercased()))
        }
        return (caseId, try await store.append(to: name, expected: .any, events: [event]))
    }

    /// The calendar year of `date` in the deployment's zone: a case opened at 00:30 on 1 January
    /// in Prishtina is numbered in the new year.
    func issuingYear(_ date: Date) -> Int { Timestamp.year(of: date, timeZone: configuration.timeZone) }
}
