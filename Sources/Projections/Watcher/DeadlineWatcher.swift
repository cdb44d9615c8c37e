import EventStore
import Foundation
import Postgres
import Referrals

/// Appends `SopDeadlineMissed` to `sop-<caseId>` when a deadline passes unmet.
///
/// Candidates come from the deadlines read model (unmet, not cancelled, past due, no notice yet),
/// the case whose deadline fell due first first (in case-id order, an attack pass had its own
/// case, under a later id, wait behind thousands of others it had opened); each candidate's case
/// is then evaluated again from its own stream, so a lagging read model cannot cause a false
/// notice.
///
/// "Already notified" means one thing only: the case's `sop-<caseId>` stream holds that very
/// notice — same ruleset series, rule and trigger (``Referrals/Deadline/isNoticed(by:)``). The
/// notice's id is derived with the server's secret (``SystemEventKey``: HMAC-SHA-256 of the case,
/// ruleset series, rule and trigger), so no client can take it first; an id found taken anyway
/// is an alarm (``SystemEventIdConflict``: recorded for `/metrics`, counted in the report, handed
/// to `onError`) and the notice is written under a random id — a missed deadline is never
/// silenced. Appends carry the `sop-` stream's exact version and the notice's content comes from
/// the deadline alone (`occurredAt` is the deadline's `dueAt`, the actor `system`/`deadline-watcher`),
/// so a restart, a second watcher, or a watcher under a rotated key never writes a notice twice.
/// See docs/system-events.md.
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
        /// Notice ids this pass found taken by other events: alarms (see ``SystemEventIdConflict``).
        public var idConflicts: [SystemEventIdConflict] = []
        /// Missed deadlines whose notice this pass could not write (the pass goes on with the
        /// others; the next pass tries again). Each one is handed to `onError` by ``run``.
        public var failures: [NoticeFailure] = []
    }

    /// A missed deadline whose notice could not be written in a pass.
    public struct NoticeFailure: Error, Sendable, Hashable, CustomStringConvertible {
        /// `sop-<caseId>`.
        public var stream: String
        public var rulesetId: String
        public var ruleId: String
        /// What went wrong (the store's error, or the last id conflict).
        public var reason: String

        public var description: String {
            "the notice of \(rulesetId)/\(ruleId) in \(stream) was not written: \(reason); retrying next pass"
        }
    }

    public let store: EventStore
    /// Reads the read models and case streams; the store's pool when nil.
    public let pool: ConnectionPool
    public let user: String
    /// The key notice ids are derived with; nil: the current key, read from the database at each
    /// pass (so a rotation takes effect without a restart).
    public let key: SystemEventKey?

    public init(
        store: EventStore, pool: ConnectionPool? = nil, user: String = "deadline-watcher", key: SystemEventKey? = nil
    ) {
        self.store = store
        self.pool = pool ?? store.pool
        self.user = user
        self.key = key
    }

    /// What identifies a deadline's notice, in the order the id's derivation takes it: case,
    /// ruleset series, rule, trigger event.
    public static func noticeIdentity(of deadline: Deadline) -> [String] {
        [deadline.caseId, deadline.rulesetId, deadline.ruleId, deadline.triggerEventId.uuidString.lowercased()]
    }

    /// The id of the notice for a deadline under `key` (``SystemEventKey/eventId(type:identity:)``
    /// of ``noticeIdentity(of:)``).
    public static func noticeId(for deadline: Deadline, key: SystemEventKey) -> UUID {
        key.eventId(type: SystemEventType.sopDeadlineMissed.rawValue, identity: noticeIdentity(of: deadline))
    }

    /// The notice event for a missed deadline under a given id; its content is identical for every watcher.
    public func notice(for deadline: Deadline, id: UUID) -> NewEvent {
        NewEvent(
            id: id, type: SystemEventType.sopDeadlineMissed.rawValue,
            data: deadline.missedNotice.data.serializedString(sortedKeys: true),
            metadata: EventMetadata(
                actor: EventActor(institution: "system", user: user), correlationId: id,
                causationId: deadline.triggerEventId),
            occurredAt: deadline.dueAt)
    }

    /// One pass at `now`.
    /// - Throws: the store's errors, `SystemEventKey.KeyError.missing` before `handoff migrate`.
    @discardableResult
    public func runOnce(now: Date = Date()) async throws -> Report {
        let candidates = try await pool.query(
            """
            SELECT d.case_id FROM handoff.deadlines d
             WHERE ((d.settled IS NULL AND d.due_at <= \(now)) OR d.settled = 'overdue')
               AND NOT EXISTS (SELECT 1 FROM handoff.deadline_notices n
                                WHERE n.case_id = d.case_id AND n.rule_id = d.rule_id
                                  AND n.trigger_event_id = d.trigger_event_id
                                  AND (n.ruleset_id IS NULL OR n.ruleset_id = d.ruleset_id))
             GROUP BY d.case_id
             ORDER BY min(d.due_at), d.case_id
            """
        ).all.map { try $0.decode(0, as: String.self) }
        var report = Report(missed: 0, appended: 0, alreadyNotified: 0)
        guard !candidates.isEmpty else { return report }
        let writer: SystemEventWriter
        if let key {
            writer = SystemEventWriter(store: store, key: key)
        } else {
            writer = SystemEventWriter(store: store, key: try await SystemEventKey.current(pool))
        }

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
                    let written = try await writer.appendOnce(
                        type: SystemEventType.sopDeadlineMissed.rawValue, identity: Self.noticeIdentity(of: deadline),
                        to: stream, event: { notice(for: deadline, id: $0) },
                        isSame: { Self.isNotice($0, of: deadline) })
                    report.idConflicts += written.conflicts
                    if written.existed { report.alreadyNotified += 1 } else { report.appended += 1 }
                } catch let error as SystemEventIdConflict {
                    // Only after every attempt collided: one deadline must not hold up the others.
                    report.idConflicts.append(error)
                    report.failures.append(failure(stream, deadline, error))
                } catch let error as EventStoreError {
                    guard case .wrongExpectedVersion = error else { throw error }
                    report.failures.append(failure(stream, deadline, error))
                }
            }
        }
        return report
    }

    private func failure(_ stream: StreamName, _ deadline: Deadline, _ error: any Error) -> NoticeFailure {
        NoticeFailure(
            stream: stream.rawValue, rulesetId: deadline.rulesetId, ruleId: deadline.ruleId, reason: "\(error)")
    }

    /// Whether a recorded event of the case's `sop-` stream is the notice of `deadline`.
    static func isNotice(_ event: RecordedEvent, of deadline: Deadline) -> Bool {
        guard event.type == SystemEventType.sopDeadlineMissed.rawValue, let data = try? JSONValue.parse(event.data),
            let body = try? SystemEventBody.decode(type: event.type, data: data)
        else { return false }
        return deadline.isNoticed(by: body)
    }

    /// `handoff watch`: runs passes every `interval` until the task is cancelled; with `wakeups`,
    /// also soon after new events (at most one pass per `minimumGap`), since an append can reveal a
    /// missed deadline (a closure) as well as time passing. Errors, and each notice id conflict
    /// (an alarm), go to `onError` and the loop goes on.
    public func run(
        wakeups: Wakeups? = nil, interval: Duration = .seconds(30), minimumGap: Duration = .seconds(1),
        onError: @Sendable (any Error) -> Void = { _ in }, onPass: @Sendable (Report) -> Void = { _ in }
    ) async {
        while !Task.isCancelled {
            let seen = await wakeups?.current ?? 0
            do {
                let report = try await runOnce(now: Date())
                for conflict in report.idConflicts { onError(conflict) }
                for failure in report.failures { onError(failure) }
                onPass(report)
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

    /// `handoff watch [--once]` over `pool` (its deadlines bound every statement); closes the pool.
    public static func run(
        pool: ConnectionPool, once: Bool = false, interval: Duration = .seconds(30),
        onError: @Sendable (any Error) -> Void = { _ in },
        onPass: @Sendable (Report) -> Void = { _ in }
    ) async throws {
        let watcher = DeadlineWatcher(store: EventStore(pool: pool))
        if once {
            let report: Report
            do { report = try await watcher.runOnce(now: Date()) } catch {
                await pool.close()
                throw error
            }
            for conflict in report.idConflicts { onError(conflict) }
            for failure in report.failures { onError(failure) }
            onPass(report)
            await pool.close()
            return
        }
        await watcher.run(wakeups: nil, interval: interval, onError: onError, onPass: onPass)
        await pool.close()
    }
}
