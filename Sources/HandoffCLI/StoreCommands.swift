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
        // `actor.user` goes into the record for good: a person's name as the API's credentials give
        // them (an operator's pass wrote a newline, a right-to-left override and 20,000 characters).
        guard Identifiers.isValidUserName(user) else {
            throw CLIError.usage(
                "--user is 1-64 of a-z 0-9 . _ - (starting with a letter or digit), as person names are")
        }
        try await RegistryCommands.checkCredentialInstitution(institution, actsOnCases: true, context)
        let operatorName = context.environment["USER"] ?? context.environment["LOGNAME"] ?? "unknown"
        let eventStore = try store(context)
        let writer = CaseWriter(store: eventStore)
        do {
            let result = try await writer.appendAsOperator(
                caseId: caseId, type: type, data: try JSONValue.parse(dataText), id: givenId, expected: expected,
                institution: institution, user: user, operatorName: "operator:" + operatorName)
            context.out(result.json)
        } catch let error as ServiceError {
            // The API answers a non-party as if the case did not exist; the operator, who may read
            // every stream, is told what is so.
            if error.code == "not_found", !(try await eventStore.read(stream: stream, fromVersion: 1, limit: 1).isEmpty)
            {
                throw CLIError(message: "forbidden: \(institution) is not a party to case \(caseId)")
            }
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
        // Every argument is checked, and every file read, before the verification, which takes
        // minutes on a large store (an operator's pass got "valid" lines, then a usage error).
        if args.flag("--read-models"), only != nil {
            throw CLIError.usage("--read-models checks the whole store, not one stream")
        }
        var saved: (checkpoint: Checkpoint, heads: [StreamHead]?)?
        if let path = args.string("--checkpoint") {
            guard let checkpoint = Checkpoint(json: try Self.contents(of: path)) else {
                throw CLIError(message: "\(path) is not a checkpoint saved by 'handoff checkpoint'")
            }
            var heads: [StreamHead]? = nil
            if let headsPath = args.string("--heads") {
                guard let text = String(data: try Self.contents(of: headsPath), encoding: .utf8),
                    let parsed = EventStore.parseHeads(text)
                else {
                    throw CLIError(message: "\(headsPath) is not a heads file written by 'handoff checkpoint --heads'")
                }
                heads = parsed
            }
            saved = (checkpoint, heads)
        } else if args.string("--heads") != nil {
            throw CLIError.usage("--heads goes with --checkpoint")
        }
        let store = try store(context)
        let report = try await store.verify(stream: only)
        if let problem = report.problem {
            throw CLIError(message: "chain broken at \(problem)")
        }
        // A stream with no event is none: a mistyped case id is not "valid".
        if let only, report.events == 0 { throw CLIError(message: "no stream \(only.rawValue)") }
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
        if let (checkpoint, heads) = saved {
            let comparison = try await store.compare(with: checkpoint, savedHeads: heads)
            if comparison.matches {
                context.out(
                    "checkpoint matches: \(checkpoint.count) events in \(checkpoint.streams) streams up to "
                        + "\(checkpoint.cursor)"
                        + (checkpoint.access.map { "; access log rows 1…\($0.seq)" } ?? "")
                        + (checkpoint.event.map { "; checkpoints@\($0.version) has its hash" } ?? ""))
            } else {
                mismatches.append(
                    "the store does not match the checkpoint: " + comparison.findings.joined(separator: "; "))
            }
        }
        if args.flag("--read-models") {
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

    /// The bytes of the file at `path`. - Throws: why it cannot be read, in the system's words (no
    /// such file, permission denied).
    static func contents(of path: String) throws -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let fd = open(path, O_RDONLY)
            let reason = fd >= 0 ? "not a readable file" : String(cString: strerror(errno))
            if fd >= 0 { close(fd) }
            throw CLIError(message: "cannot read \(path): \(reason)")
        }
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
