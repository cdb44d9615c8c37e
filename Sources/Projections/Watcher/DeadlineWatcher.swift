import EventStore
import Foundation
import Postgres
import Referrals

/// Appends `SopDeadlineMissed` to `sop-<caseId>` when a deadline passes unmet.
///
/// Candidates come from the deadlines read model (unmet, not cancelled, past due, no notice yet);
/// each candidate's case is then evaluated again from its own stream, so a lagging read model
/// cannot cause a false notice. A notice's event id is derived from the deadline's key
/// (case, rule, triggering event) and its content from the deadline alone — `occurredAt` is the
/// deadline's `dueAt`, the actor `system`/`deadline-watcher` — so a restart or a second watcher
/// appending the same notice gets the store's original result instead of a duplicate.
///
/// ```swift
/// let watcher = DeadlineWatcher(store: store)
/// try await watcher.runOnce(now: Date())              // handoff watch --once
/// await watcher.run(wakeups: w, interval: .seconds(30)) // handoff watch
/// ```
public struct DeadlineWatcher: Sendable {
    /// What one pass did.
    public struct Report: Sendable, Hashable {
        /// Overdue deadlines without a notice that this pass confirmed from the case streams.
        public var missed: Int
        /// Notices this pass wrote.
        public var appended: Int
        /// Notices that already existed (another watcher, or an earlier pass, wrote them).
        public var alreadyNotified: Int
    }

    public let store: EventStore
    /// Reads the read models and case streams; the store's pool when nil.
    public let pool: ConnectionPool
    public let user: String

    public init(store: EventStore, pool: ConnectionPool? = nil, user: String = "deadline-watcher") {
        self.store = store
        self.pool = pool ?? store.pool
        self.user = user
    }

    /// The id of the notice for a deadline: SHA-256 of `Deadline.key`
    /// (`<caseId>/<ruleId>/<triggerEventId>`), its first 16 bytes with the UUID version set to 8
    /// and the RFC 9562 variant bits.
    public static func noticeId(forKey key: String) -> UUID {
        var b = Array(SHA256.hash(utf8: key).prefix(16))
        b[6] = (b[6] & 0x0F) | 0x80
        b[8] = (b[8] & 0x3F) | 0x80
        return UUID(
            uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
        )
    }

    /// The notice event for a missed deadline, identical for every watcher.
    public func notice(for deadline: Deadline) -> NewEvent {
        let id = Self.noticeId(forKey: deadline.key)
        return NewEvent(
            id: id, type: "SopDeadlineMissed", data: deadline.missedNotice.data.serializedString(sortedKeys: true),
            metadata: EventMetadata(
                actor: EventActor(institution: "system", user: user), correlationId: id,
                causationId: deadline.triggerEventId),
            occurredAt: deadline.dueAt)
    }

    /// One pass at `now`.
    @discardableResult
    public func runOnce(now: Date = Date()) async throws -> Report {
        let candidates = try await pool.query(
            """
            SELECT DISTINCT d.case_id FROM handoff.deadlines d
             WHERE d.satisfied_at IS NULL AND d.cancelled_at IS NULL AND (d.due_at <= \(now) OR d.missed_at_closure)
               AND NOT EXISTS (SELECT 1 FROM handoff.deadline_notices n
                                WHERE n.case_id = d.case_id AND n.rule_id = d.rule_id
                                  AND n.trigger_event_id = d.trigger_event_id)
             ORDER BY 1
            """
        ).all.map { try $0.decode(0, as: String.self) }
        var report = Report(missed: 0, appended: 0, alreadyNotified: 0)
        guard !candidates.isEmpty else { return report }

        let (histories, rulesets, institutions) = try await pool.withConnection { c in
            (
                try await History.cases(candidates, through: nil, on: c),
                try await History.rulesets(through: nil, on: c),
                try await History.institutions(through: nil, on: c)
            )
        }
        for caseId in candidates {
            guard let events = histories[caseId]?.events, let stream = StreamName.sop(caseId) else { continue }
            let overdue = DeadlineEvaluator.evaluate(
                caseId: caseId, events: events, rulesets: rulesets, now: now, institutions: institutions
            ).filter { $0.status == .overdue && $0.dueAt <= now }
            for deadline in overdue {
                report.missed += 1
                do {
                    let result = try await store.append(to: stream, expected: .any, events: [notice(for: deadline)])
                    if result.deduplicated { report.alreadyNotified += 1 } else { report.appended += 1 }
                } catch EventStoreError.duplicateEventId {
                    // The notice exists with other content (e.g. the responsible party resolved since): keep it.
                    report.alreadyNotified += 1
                }
            }
        }
        return report
    }

    /// `handoff watch`: runs passes every `interval` until the task is cancelled; with `wakeups`,
    /// also soon after new events (at most one pass per `minimumGap`), since an append can reveal a
    /// missed deadline (a closure) as well as time passing. Errors go to `onError` and the loop
    /// goes on.
    public func run(
        wakeups: Wakeups? = nil, interval: Duration = .seconds(30), minimumGap: Duration = .seconds(1),
        onError: @Sendable (any Error) -> Void = { _ in }, onPass: @Sendable (Report) -> Void = { _ in }
    ) async {
        while !Task.isCancelled {
            let seen = await wakeups?.current ?? 0
            do {
                onPass(try await runOnce(now: Date()))
            } catch {
                onError(error)
            }
            do { try await Task.sleep(for: minimumGap) } catch { return }
            if let wakeups {
                await wakeups.wait(since: seen, timeout: interval - minimumGap)
            } else {
                try? await Task.sleep(for: interval - minimumGap)
            }
        }
    }

    /// `handoff watch [--once]` against `url`.
    public static func run(
        url: String, once: Bool = false, interval: Duration = .seconds(30),
        onError: @Sendable (any Error) -> Void = { _ in },
        onPass: @Sendable (Report) -> Void = { _ in }
    ) async throws {
        let pool = ConnectionPool(url: url, maximumConnections: 2)
        let watcher = DeadlineWatcher(store: EventStore(pool: pool))
        if once {
            onPass(try await watcher.runOnce(now: Date()))
            await pool.close()
            return
        }
        await watcher.run(wakeups: nil, interval: interval, onError: onError, onPass: onPass)
        await pool.close()
    }
}
