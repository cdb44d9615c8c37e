// The `handoff` command line as declared data, following API.md's CLI table. The handlers that run
// each command live elsewhere and switch on `ParsedArguments.subcommandPath`.

import QueryService

extension CommandSpec {
    /// The deadlines of `serve` and `demo` (docs/operations.md, "Timeouts").
    static let databaseLimitOptions = [
        OptionSpec(
            "--statement-timeout", value: "SECONDS", kind: .integer(1...3600), default: "10",
            help: "the longest a database statement may run"),
        OptionSpec(
            "--pool-wait", value: "SECONDS", kind: .integer(1...600), default: "5",
            help: "the longest a request waits for a database connection"),
    ]

    /// The deadlines of `project` and `watch`: their statements are larger (a chunk of a
    /// recompute, a pass over the open deadlines), but a frozen database still frees them.
    static let workerLimitOptions = [
        OptionSpec(
            "--statement-timeout", value: "SECONDS", kind: .integer(1...3600), default: "60",
            help: "the longest a database statement may run"),
        OptionSpec(
            "--pool-wait", value: "SECONDS", kind: .integer(1...600), default: "30",
            help: "the longest a worker waits for a database connection"),
    ]

    /// Every `handoff` command, its arguments and help.
    public static let handoff = CommandSpec(
        "handoff",
        summary: "An append-only, hash-chained record of referral handoffs between institutions.",
        discussion: """
            Every command reads DATABASE_URL (a libpq connection URI). Exit status: 0 success, \
            1 error, 2 bad usage, 3 wrong expected version.
            """,
        subcommands: [
            CommandSpec(
                "demo",
                summary: "Run service, projectors and watcher in one process with synthetic cases.",
                discussion: """
                    Without DATABASE_URL, starts a private PostgreSQL cluster under DIR; with it, migrates \
                    and seeds that database instead. Writes DIR/tokens.json.
                    """,
                options: [
                    OptionSpec("--port", value: "P", kind: .integer(1...65535), help: "port of the query service"),
                    OptionSpec("--cases", value: "N", kind: .integer(0...1_000_000), help: "synthetic cases to seed"),
                    OptionSpec("--home", value: "DIR", default: "./.handoff", help: "where demo state lives"),
                ] + databaseLimitOptions + OptionSpec.logging,
                flags: [FlagSpec("--reset", help: "delete DIR's state first and start afresh")]),
            CommandSpec("migrate", summary: "Apply the migrations in order (idempotent, checksummed)."),
            CommandSpec(
                "serve",
                summary: "Run the query service.",
                options: [
                    OptionSpec("--port", value: "P", kind: .integer(1...65535), help: "port to listen on"),
                    OptionSpec("--host", value: "H", help: "address to bind"),
                    OptionSpec(
                        "--public-url", value: "URL",
                        help: "the address browsers use (https://… behind a TLS proxy: __Host- Secure cookie)"),
                    OptionSpec(
                        "--max-streams-per-token", value: "N", kind: .integer(1...10_000),
                        help: "open event streams per token (default 8)"),
                    OptionSpec(
                        "--max-requests-per-caller", value: "N", kind: .integer(1...1_000_000),
                        help: "API requests in progress per institution, or coordinator or auditor person (default 32)"),
                    OptionSpec(
                        "--append-budget", value: "N", kind: .integer(1...1_000_000_000_000),
                        help: "an institution's saved-up share of the projector's work (default 1000000)"),
                    OptionSpec(
                        "--append-budget-per-second", value: "N", kind: .integer(1...1_000_000_000_000),
                        help: "how fast that share comes back (default 5000; docs/operations.md)"),
                    OptionSpec(
                        "--body-budget-mib", value: "M", kind: .integer(1...65_536),
                        help: "request bodies buffered at once, all connections (default 64)"),
                    OptionSpec(
                        "--body-budget-per-address-mib", value: "M", kind: .integer(1...65_536),
                        help: "of that, what one peer address may hold (default an eighth; the whole behind a proxy)"),
                    OptionSpec(
                        "--session-idle-minutes", value: "N", kind: .integer(1...1_440),
                        help: "dashboard session idle expiry (default 30)"),
                    OptionSpec(
                        "--session-hours", value: "N", kind: .integer(1...168),
                        help: "dashboard session absolute expiry (default 12)"),
                    OptionSpec(
                        "--sign-in-max-failures", value: "N", kind: .integer(1...100),
                        help: "failed sign-ins in a row that lock a user name (default 5)"),
                    OptionSpec(
                        "--sign-in-lock-minutes", value: "N", kind: .integer(1...10_080),
                        help: "how long a sign-in lock lasts (default 15)"),
                    OptionSpec(
                        "--default-lang", kind: .oneOf(Language.allCases.map(\.tag)),
                        help: "the dashboard's language when neither the person nor the browser names one (sq)"),
                    OptionSpec(
                        "--read-url", value: "URL",
                        help: "a streaming standby for the read routes (default: DATABASE_READ_URL; unset: none)"),
                    OptionSpec(
                        "--read-max-lag", value: "SECONDS", kind: .integer(1...3600),
                        help: "reads go to the primary while the standby is further behind (default 5)"),
                ] + databaseLimitOptions + OptionSpec.logging),
            CommandSpec(
                "project",
                summary: "Run the projectors.",
                options: workerLimitOptions + OptionSpec.logging,
                flags: [FlagSpec("--once", help: "catch up, then exit")],
                subcommands: [
                    CommandSpec(
                        "rebuild",
                        summary: "Rebuild read models, with progress on a terminal.",
                        positionals: [PositionalSpec("NAME", help: "a read model's name, or 'all'")])
                ],
                requiresSubcommand: false),
            CommandSpec(
                "watch",
                summary: "Run the deadline watcher.",
                options: workerLimitOptions + OptionSpec.logging,
                flags: [FlagSpec("--once", help: "check once, then exit")]),
            CommandSpec(
                "append",
                summary: "Append one event; prints the result as JSON.",
                positionals: [
                    PositionalSpec("STREAM", help: "e.g. case-KS-2026-000123"),
                    PositionalSpec("TYPE", help: "e.g. ReferralIssued"),
                    PositionalSpec("JSON", help: "the event's data, a JSON object"),
                ],
                options: [
                    OptionSpec("--id", value: "UUID", help: "the event's id (default: a new one)"),
                    OptionSpec(
                        "--expected-version", value: "N|any|no-stream|exists", default: "any",
                        help: "fail unless the stream is at this version"),
                    OptionSpec("--institution", value: "I", help: "acting institution (with --user)"),
                    OptionSpec("--user", value: "U", help: "acting user (with --institution)"),
                ]),
            CommandSpec(
                "read",
                summary: "Print a stream's events as JSON lines.",
                positionals: [PositionalSpec("STREAM")]),
            CommandSpec(
                "verify",
                summary: "Recompute hash chains and checkpoints; exit 1 naming the first bad event.",
                positionals: [PositionalSpec("STREAM", required: false, help: "only this stream (default: all)")],
                options: [
                    OptionSpec(
                        "--checkpoint", value: "FILE",
                        help: "also check the store against a checkpoint saved earlier (its JSON)"),
                    OptionSpec(
                        "--heads", value: "FILE",
                        help: "the heads file saved with that checkpoint, to name what changed"),
                ],
                flags: [
                    FlagSpec(
                        "--read-models",
                        help: "also recompute the read models (the figures' tables) from the log and compare them")
                ]),
            CommandSpec(
                "checkpoint", summary: "Write a checkpoint event and print it as JSON.",
                options: [
                    OptionSpec(
                        "--heads", value: "FILE", help: "also write the covered stream heads to FILE, to keep off-site")
                ]),
            CommandSpec(
                "institution",
                summary: "Manage institutions.",
                subcommands: [
                    CommandSpec(
                        "add",
                        summary: "Register an institution (an event).",
                        positionals: [PositionalSpec("ID", help: "stable id, e.g. kp-dthb")],
                        options: [
                            OptionSpec("--name", value: "NAME", required: true, help: "display name"),
                            OptionSpec("--kind", value: "KIND", required: true, help: "e.g. police, prosecution, ngo"),
                            OptionSpec(
                                "--case-id-prefix", value: "P",
                                help: "case ids it may choose itself (P-…); others come from POST /v1/cases"),
                        ])
                ]),
            CommandSpec(
                "token",
                summary: "Manage API tokens.",
                subcommands: [
                    CommandSpec(
                        "create",
                        summary: "Print a new token on stdout (stored hashed).",
                        options: [
                            OptionSpec(
                                "--role", kind: .oneOf(["institution", "coordinator", "auditor", "metrics"]),
                                required: true, help: "what the token may do (metrics: read /metrics only)"),
                            OptionSpec("--institution", value: "ID", help: "the institution (role institution)"),
                            OptionSpec("--user", value: "U", required: true, help: "the person the token is for"),
                        ]),
                    CommandSpec(
                        "revoke",
                        summary: """
                            Revoke a token and the dashboard sessions made from it, by its id (printed on stderr \
                            by token create) or, with -, by the token itself read from stdin (never on the command \
                            line, where ps shows it). Takes effect within 5 s in every running service.
                            """,
                        positionals: [
                            PositionalSpec("ID|-", help: "the token's id, or - to read the token from stdin")
                        ]),
                ]),
            CommandSpec(
                "user",
                summary: "Manage persons' accounts (dashboard sign-in with a password and a one-time code).",
                discussion: """
                    A password is typed at a prompt (echo off) when stdin is a terminal, else read as the first \
                    line of stdin; never given as an argument (ps would show it). --generate-password makes a \
                    random one and prints it once. Coordinator and auditor accounts enrol a one-time code at \
                    their first sign-in.
                    """,
                subcommands: [
                    CommandSpec(
                        "add",
                        summary: "Create an account; prints it as JSON (with the password if generated).",
                        positionals: [PositionalSpec("USER", help: "the user name: 1-64 of a-z 0-9 . _ -")],
                        options: [
                            OptionSpec(
                                "--role", kind: .oneOf(["institution", "coordinator", "auditor"]), required: true,
                                help: "what the person may do"),
                            OptionSpec("--institution", value: "ID", help: "the institution (role institution)"),
                            OptionSpec("--name", value: "NAME", required: true, help: "display name"),
                        ],
                        flags: [FlagSpec("--generate-password", help: "make a random password and print it once")]),
                    CommandSpec(
                        "disable",
                        summary: "Disable an account; its sessions end at once (streams within 5 s).",
                        positionals: [PositionalSpec("USER")]),
                    CommandSpec(
                        "reset-password",
                        summary: "Set a new password; ends the account's sessions and lifts a lock.",
                        positionals: [PositionalSpec("USER")],
                        flags: [
                            FlagSpec("--generate-password", help: "make a random password and print it once"),
                            FlagSpec(
                                "--clear-one-time-code",
                                help: "also forget the one-time-code key (a lost phone): enrol again at sign-in"),
                        ]),
                    CommandSpec(
                        "unlock",
                        summary: "Lift a sign-in lock and forget failed attempts.",
                        positionals: [PositionalSpec("USER")]),
                    CommandSpec("list", summary: "Print every account as a JSON line (never a password or key)."),
                ]),
            CommandSpec(
                "secret",
                summary: "Manage the server's secrets.",
                subcommands: [
                    CommandSpec(
                        "rotate",
                        summary: "Make a new system event key current (older keys are kept).",
                        discussion: """
                            System event ids are derived with this key (docs/system-events.md). Run as the role \
                            that runs migrate; running services pick the new key up at their next pass.
                            """)
                ]),
            CommandSpec(
                "sop",
                summary: "Manage SOP rulesets.",
                subcommands: [
                    CommandSpec(
                        "publish",
                        summary: "Publish a ruleset version.",
                        positionals: [PositionalSpec("FILE", help: "the ruleset JSON document")])
                ]),
            CommandSpec(
                "report",
                summary: "Reports from the read models.",
                subcommands: [
                    CommandSpec(
                        "annual",
                        summary: "The National Authority's annual report for a year (with the year before).",
                        discussion: """
                            Counts under 5 are withheld (<5), with secondary suppression, unless --unsuppressed \
                            (the auditor's copy). CSV writes one file per table into the directory --out names.
                            """,
                        options: [
                            OptionSpec(
                                "--year", value: "Y", kind: .integer(1900...9999), required: true, help: "the year"),
                            OptionSpec(
                                "--format", kind: .oneOf(["html", "csv", "json"]), default: "html",
                                help: "html (printable), csv (one file per table) or json"),
                            OptionSpec(
                                "--lang", value: "L", default: "en",
                                help: "language: en, sq, sr-Latn or sr-Cyrl (numbers and dates follow it)"),
                            OptionSpec(
                                "--out", value: "FILE", help: "write to FILE (csv: a directory) instead of stdout"),
                            OptionSpec(
                                "--time-zone", value: "TZ", default: "Europe/Belgrade",
                                help: "the zone whose calendar years bound the periods"),
                        ],
                        flags: [FlagSpec("--unsuppressed", help: "withhold nothing (the auditor's copy)")])
                ]),
            CommandSpec(
                "bench",
                summary: "Run a benchmark against DATABASE_URL or, without it, a fresh embedded cluster.",
                discussion: """
                    NAME: append, append-contended, append-batch, read-all, rebuild, e2e-latency, http, scale, \
                    report (the annual report; --events N seeds N/30 cases, default 50,000; not part of all), \
                    or all (which also writes docs/benchmarks.md); several, comma-separated, share one cluster. \
                    Every figure is set against a baseline \
                    measured in the same run. The HTTP benches run closed-loop (throughput against /livez) and \
                    then open-loop at --rate requests/s (latency from each request's intended send time).
                    """,
                positionals: [
                    PositionalSpec(
                        "NAME", kind: .string,
                        help: "which benchmark, or several separated by commas (append,append-batch)")
                ],
                options: [
                    OptionSpec(
                        "--seconds", value: "S", kind: .integer(1...3600), help: "how long each timed phase runs"),
                    OptionSpec("--clients", value: "C", kind: .integer(1...512), help: "concurrent clients"),
                    OptionSpec(
                        "--events", value: "N", kind: .integer(1000...100_000_000), help: "size of the data set"),
                    OptionSpec("--output", value: "FILE", help: "with 'all': where to write the report"),
                    OptionSpec(
                        "--rate", value: "R", kind: .integer(1...100_000),
                        help: "the open-loop HTTP phases' arrival rate, requests/s (default 1000)"),
                    OptionSpec(
                        "--open-seconds", value: "S", kind: .integer(1...3600),
                        help: "how long each open-loop HTTP phase runs (default 30)"),
                    OptionSpec(
                        "--groups", value: "G", kind: .integer(1...64),
                        help:
                            "append, append-batch, e2e-latency: group commit's groups in flight (default: the store's)"),
                    OptionSpec(
                        "--window-us", value: "W", kind: .integer(0...100_000),
                        help:
                            "append, append-batch, e2e-latency: group commit's window in microseconds (default: the store's)"
                    ),
                ],
                flags: [
                    FlagSpec("--json", help: "end with one JSON object per benchmark on stdout"),
                    FlagSpec(
                        "--ungrouped",
                        help: "append, append-batch, e2e-latency: one transaction per append (group commit off)"),
                ]),
        ])
}
