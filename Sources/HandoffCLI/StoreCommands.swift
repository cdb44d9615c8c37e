import EventStore
import Foundation
import Postgres
import Projections
import QueryService
import Referrals
import ServiceStore

/// `migrate`, `append`, `read`, `verify`, `checkpoint`: the store's own commands.
enum StoreCommands {
    static func store(_ context: CLIContext, poolSize: Int = 2) throws -> EventStore {
        EventStore(pool: ConnectionPool(url: try context.databaseURL(), maximumConnections: poolSize))
    }

    static func migrate(_ context: CLIContext) async throws {
        let url = try context.databaseURL()
        guard let dir = Migrator.locateDirectory() else {
            throw CLIError(message: "\(Migrator.MigrationError.directoryNotFound)")
        }
        let migrator = try Migrator(directory: dir)
        do {
            let applied = try await migrator.migrate(url: url)
            context.out(
                applied.isEmpty
                    ? "up to date (\(migrator.migrations.count) migrations)"
                    : "applied \(applied.map { String(format: "%04d", $0) }.joined(separator: ", "))")
        } catch let error as Migrator.MigrationError {
            throw CLIError(message: error.description)
        }
    }

    static func append(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let streamText = args.positional(0)!
        guard let stream = StreamName(streamText) else {
            throw CLIError.usage(
                "unknown stream name pattern: use case-<caseId>, sop-<caseId>, institutions, sop-rulesets or checkpoints"
            )
        }
        let type = args.positional(1)!
        guard EventStore.isValidType(type) else {
            throw CLIError.usage("an event type is a letter followed by letters and digits, at most 64")
        }
        let dataText = args.positional(2)!
        guard case .object = try? JSONValue.parse(dataText) else {
            throw CLIError.usage("the event data must be a JSON object")
        }
        var givenId: UUID?
        if let given = args.string("--id") {
            guard let parsed = UUID(uuidString: given) else { throw CLIError.usage("--id must be a UUID") }
            givenId = parsed
        }
        let expectedText = args.string("--expected-version") ?? "any"
        guard let expected = ExpectedVersion(expectedText) else {
            throw CLIError.usage("--expected-version must be a number, any, no-stream or exists")
        }
        let institution = args.string("--institution"), user = args.string("--user")
        guard (institution == nil) == (user == nil) else {
            throw CLIError.usage("--institution and --user go together")
        }
        // Not a back door: a case event passes the same admission as through the API, for the
        // institution named, with the operator recorded beside the actor; system streams have
        // their own commands (and `sop-` notices are the deadline watcher's alone).
        guard let caseId = CaseAccess.caseId(ofCaseStream: stream.rawValue) else {
            let instead =
                switch stream.rawValue {
                case "institutions": "handoff institution add"
                case "sop-rulesets": "handoff sop publish"
                case "checkpoints": "handoff checkpoint"
                default: "the deadline watcher (handoff watch)"
                }
            throw CLIError.usage("\(stream.rawValue) is written by \(instead), not by handoff append")
        }
        guard let institution, let user else {
            throw CLIError.usage("a case event needs --institution I --user U: the operator acts for an institution")
        }
        let operatorName = context.environment["USER"] ?? context.environment["LOGNAME"] ?? "unknown"
        let writer = CaseWriter(store: try store(context))
        do {
            let result = try await writer.appendAsOperator(
                caseId: caseId, type: type, data: try JSONValue.parse(dataText), id: givenId, expected: expected,
                institution: institution, user: user, operatorName: "operator:" + operatorName)
            context.out(result.json)
        } catch let error as ServiceError {
            if error.code == "wrong_expected_version" {
                throw CLIError(message: "\(error.code): \(error.message) \(error.detailText)", exitCode: 3)
            }
            throw CLIError(message: "\(error.code): \(error.message) \(error.detailText)")
        }
    }

    static func read(_ args: ParsedArguments, _ context: CLIContext) async throws {
        guard let stream = StreamName(args.positional(0)!) else { throw CLIError.usage("unknown stream name pattern") }
        let store = try store(context)
        var next: Int64 = 1
        while true {
            let page = try await store.read(stream: stream, fromVersion: next, limit: 1000)
            for event in page { context.out(event.json) }
            guard page.count == 1000, let last = page.last else { break }
            next = last.version + 1
        }
    }

    static func verify(_ args: ParsedArguments, _ context: CLIContext) async throws {
        var only: StreamName? = nil
        if let text = args.positional(0) {
            guard let s = StreamName(text) else { throw CLIError.usage("unknown stream name pattern") }
            only = s
        }
        let store = try store(context)
        let report = try await store.verify(stream: only)
        if let problem = report.problem {
            throw CLIError(message: "chain broken at \(problem)")
        }
        context.out("valid: \(report.events) events in \(report.streams) streams")
        // What does not match a checkpoint, the store's own newest and the one given: all of it is told.
        var mismatches: [String] = []
        if only == nil {
            let access = try await store.verifyAccessLog()
            if let problem = access.problem {
                throw CLIError(message: "chain broken at \(problem)")
            }
            context.out("valid: access log of \(access.rows) rows")
            // The store's own newest checkpoint: chains re-computed after a removed tail, stream or
            // covered event verify, but do not give back what it recorded.
            if let (version, comparison) = try await store.compareNewestStoredCheckpoint() {
                if comparison.matches {
                    context.out("valid: the newest stored checkpoint, checkpoints@\(version), recomputes")
                } else {
                    mismatches.append(
                        "the store does not match its own newest checkpoint, checkpoints@\(version): "
                            + comparison.findings.joined(separator: "; "))
                }
            }
        }
        if let path = args.string("--checkpoint") {
            guard let data = FileManager.default.contents(atPath: path), let saved = Checkpoint(json: data) else {
                throw CLIError(message: "\(path) is not a checkpoint saved by 'handoff checkpoint'")
            }
            var heads: [StreamHead]? = nil
            if let headsPath = args.string("--heads") {
                guard let text = try? String(contentsOfFile: headsPath, encoding: .utf8),
                    let parsed = EventStore.parseHeads(text)
                else {
                    throw CLIError(message: "\(headsPath) is not a heads file written by 'handoff checkpoint --heads'")
                }
                heads = parsed
            }
            let comparison = try await store.compare(with: saved, savedHeads: heads)
            if comparison.matches {
                context.out(
                    "checkpoint matches: \(saved.count) events in \(saved.streams) streams up to \(saved.cursor)"
                        + (saved.access.map { "; access log rows 1…\($0.seq)" } ?? "")
                        + (saved.event.map { "; checkpoints@\($0.version) has its hash" } ?? ""))
            } else {
                mismatches.append(
                    "the store does not match the checkpoint: " + comparison.findings.joined(separator: "; "))
            }
        } else if args.string("--heads") != nil {
            throw CLIError.usage("--heads goes with --checkpoint")
        }
        if args.flag("--read-models") {
            guard only == nil else { throw CLIError.usage("--read-models checks the whole store, not one stream") }
            // The figures are read from these tables, which no chain covers.
            let check = try await ProjectionRunner(store: store).checkReadModels()
            for table in check.tables {
                if table.matches {
                    context.out("valid: read model \(table.name), \(table.rows) rows as the log gives them")
                } else {
                    mismatches.append(
                        "read model \(table.name) is not what the log gives: \(table.extra) rows the log does not give, "
                            + "\(table.missing) rows missing, first at \(table.firstKey ?? "?")")
                }
            }
        }
        if !mismatches.isEmpty { throw CLIError(message: mismatches.joined(separator: "; and ")) }
    }

    static func checkpoint(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let store = try store(context)
        let (_, heads, appended) = try await store.writeCheckpoint()
        if let path = args.string("--heads") {
            let text = heads.map(\.line).joined()
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
                throw CLIError(message: "could not write \(path)")
            }
        }
        let events = try await store.read(stream: .checkpoints, fromVersion: appended.streamVersion, limit: 1)
        guard let event = events.first else {
            throw CLIError(message: "the checkpoint was written but could not be read back")
        }
        context.out(event.json)
    }
}
