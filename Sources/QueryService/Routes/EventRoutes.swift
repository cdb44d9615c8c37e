import EventStore
import Foundation
import HTTP
import Postgres
import Referrals

/// `GET /v1/events` (pages) and `GET /v1/events/stream` (Server-Sent Events).
extension QueryService {
    func eventsPage(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        let after = try Self.cursor(request.query["after"], field: "after")
        let limit = try Self.limit(request, default: 100, maximum: 1000)
        let types = try Self.types(request)
        let page = try await withReads(request) { reads in
            try await reads.feed.page(after: after, limit: limit, types: types, for: principal)
        }
        try await accessLog.record(
            principal, caseIds: VisibleFeed.caseIds(page.events), endpoint: Self.endpoint(request))
        return .json(.ok, Self.pageJSON(page.events, next: page.next))
    }

    static func pageJSON(_ events: [RecordedEvent], next: Cursor) -> String {
        "{\"events\":" + EventJSON.array(events) + ",\"next\":\"" + next.description + "\"}"
    }

    func eventStream(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let credential = try await credential(request)
        let principal = credential.principal
        let resume = request.headers["Last-Event-ID"].flatMap { $0.isEmpty ? nil : $0 }
        let start =
            try resume.map { try Self.cursor($0, field: "Last-Event-ID") }
            ?? Self.cursor(request.query["after"], field: "after")
        // A stream resumes from an event it delivered (or the start): a made-up cursor would
        // deliver nothing, ever, to a client that reconnects with it. With the database out of
        // reach the cursor cannot be checked, and the stream waits the outage out as it always
        // did (a browser's EventSource gives up for good on any answer but 200).
        guard (try? await store.names(start)) ?? true else {
            let field = resume == nil ? "after" : "Last-Event-ID"
            throw ServiceError.badRequest("\(field) is not the cursor of an event in the log.", field: field)
        }
        let types = try Self.types(request)
        let minimum = try readMinimum(request)
        let endpoint = Self.endpoint(request)
        return eventStreamResponse(try streamLease(credential.tokenId)) { [self] writer in
            try await streamEvents(
                to: writer, principal: principal, from: start, types: types, minimum: minimum, endpoint: endpoint,
                stillAllowed: { [tokens] in try await tokens.isLive(id: credential.tokenId) })
        }
    }

    /// A Server-Sent Events response that runs `produce` while the client stays: counted in the
    /// metrics while open, its place in the stream quota (`lease`) given back when it ends.
    func eventStreamResponse(
        _ lease: StreamQuota.Lease, _ produce: @escaping @Sendable (ResponseWriter) async throws -> Void
    ) -> HTTPResponse {
        let headers: HTTPHeaders = [
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
        ]
        return .stream(headers: headers) { [self] writer in
            defer { lease.release() }
            metrics.sseClientConnected()
            defer { metrics.sseClientDisconnected() }
            try await produce(writer)
        }
    }

    /// A place for one more event stream of this token. - Throws: 429 `too_many_streams`.
    func streamLease(_ tokenId: Int64) throws -> StreamQuota.Lease {
        guard let lease = streamQuota.acquire(tokenId) else {
            throw ServiceError.tooManyStreams(limit: streamQuota.limit)
        }
        return lease
    }

    /// Sends events after `cursor` as they become readable, each with its cursor as `id:`.
    private func streamEvents(
        to writer: ResponseWriter, principal: Principal, from start: Cursor, types: [String]?, minimum: WALPosition?,
        endpoint: String, stillAllowed: @escaping @Sendable () async throws -> Bool
    ) async throws {
        try await follow(
            writer, principal: principal, from: start, types: types, pageSize: 200, retryMilliseconds: 1000,
            minimum: minimum, stillAllowed: stillAllowed
        ) { [self] events in
            try await accessLog.record(principal, caseIds: VisibleFeed.caseIds(events), endpoint: endpoint)
            var chunk = ""
            for e in events {
                let json = renderedEvents.value(for: e.id) { EventJSON.render(e) }
                chunk += "id: \(e.cursor)\nevent: \(e.type)\ndata: \(json)\n\n"
            }
            return chunk
        }
    }

    /// The loop behind every event stream: reads the caller's visible feed after `start` as events
    /// become readable, writes what `render` makes of each page, and a comment line whenever the
    /// stream was silent for the heartbeat interval. A database outage is waited out (heartbeats
    /// keep going); the loop ends when the client leaves, or when `stillAllowed` (asked at least
    /// every ``QueryServiceConfiguration/streamRecheckInterval``) says the credential behind the
    /// stream was revoked: then a last `event: revoked` is sent and the stream ends. While that
    /// question goes unanswered for longer than two checks, nothing is read.
    ///
    /// Each read goes to the server ``readPath(minimum:)`` chooses (the replica while it keeps up):
    /// cursors name a place in the one gap-free order, so a stream that moves between the replica
    /// and the primary neither skips nor repeats an event. The first read waits for `minimum`.
    func follow(
        _ writer: ResponseWriter, principal: Principal, from start: Cursor, types: [String]?, pageSize: Int,
        retryMilliseconds: Int, minimum: WALPosition? = nil, stillAllowed: @escaping @Sendable () async throws -> Bool,
        render: @Sendable ([RecordedEvent]) async throws -> String
    ) async throws {
        var minimum = minimum
        let clock = ContinuousClock()
        var cursor = start
        var lastWrite = clock.now
        var lastCheck = clock.now
        var lastConfirmed = clock.now
        try await writer.write(": connected\nretry: \(retryMilliseconds)\n\n")
        while !Task.isCancelled, writer.isClientConnected {
            if clock.now - lastCheck >= configuration.streamRecheckInterval {
                switch try? await stillAllowed() {
                case false?:
                    try? await writer.write("event: revoked\ndata: {}\n\n")
                    return
                case true?: lastConfirmed = clock.now
                case nil: break  // unanswered: an outage, or every credential lookup's connection busy
                }
                lastCheck = clock.now
            }
            // Nothing is read while the credential has gone unconfirmed for longer than two
            // checks: a revoked token's stream must not read on because its checks went
            // unanswered (made-up tokens, each looked up, can keep the lookups' connections busy).
            // In an outage the stream reads nothing anyway; heartbeats go on either way.
            let confirmed = clock.now - lastConfirmed <= configuration.streamRecheckInterval * 2
            let seen = await wakeups.current
            var caughtUp = true
            if confirmed {
                do {
                    let from = cursor
                    let page = try await withReads(minimum: minimum) { reads in
                        try await reads.feed.page(
                            after: from, limit: pageSize, types: types, for: principal, tail: (reads.tail, seen))
                    }
                    minimum = nil
                    if !page.events.isEmpty {
                        try await writer.write(try await render(page.events))
                        lastWrite = clock.now
                    }
                    cursor = page.next
                    caughtUp = page.caughtUp
                } catch let error where ServiceError.from(error).code == "unavailable" {
                    // Outage: keep the cursor, keep the heartbeat, read again after the poll interval.
                }
            }
            if !caughtUp { continue }
            let silent = clock.now - lastWrite
            if silent >= configuration.heartbeatInterval {
                try await writer.write(": heartbeat\n\n")
                lastWrite = clock.now
                continue
            }
            let untilCheck = configuration.streamRecheckInterval - (clock.now - lastCheck)
            let timeout = min(configuration.heartbeatInterval - silent, configuration.pollInterval, untilCheck)
            await wakeups.wait(since: seen, timeout: max(.zero, timeout))
        }
    }

    /// A cursor parameter: absent or empty means the start of the log. - Throws: 400.
    static func cursor(_ text: String?, field: String) throws -> Cursor {
        guard let text, !text.isEmpty else { return .start }
        guard let cursor = Cursor(text) else {
            throw ServiceError.badRequest("\(field) is not a cursor this service returned.", field: field)
        }
        return cursor
    }

    /// `?types=A,B` (or repeated), each an event type name; nil when absent. - Throws: 400.
    static func types(_ request: HTTPRequest) throws -> [String]? {
        let values = request.query.values(for: "types")
        guard !values.isEmpty else { return nil }
        let names = values.flatMap { $0.split(separator: ",", omittingEmptySubsequences: true).map(String.init) }
        guard !names.isEmpty, names.count <= 64, names.allSatisfy(EventStore.isValidType) else {
            throw ServiceError.badRequest("types is a comma-separated list of event type names.", field: "types")
        }
        return names
    }
}
