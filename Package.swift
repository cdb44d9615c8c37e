// swift-tools-version:6.0
// Handoff: an append-only, hash-chained record of referral handoffs between anti-trafficking institutions.
// No SwiftPM package dependencies, by design: the one native dependency is libpq.
import PackageDescription

let package = Package(
    name: "Handoff",
    products: [
        .executable(name: "handoff", targets: ["handoff"])
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // The logger every module uses (swift-log's shape, no dependencies): at the bottom of the graph.
        .target(name: "Logging"),
        // SHA-256, HMAC-SHA-256 and secure random bytes: no dependencies, used by every module that hashes.
        .target(name: "Crypto"),
        .target(name: "Postgres", dependencies: ["CLibPQ", "Logging"]),
        .target(name: "EventStore", dependencies: ["Postgres", "Crypto", "Logging"]),
        .target(name: "Referrals"),
        .target(name: "Projections", dependencies: ["EventStore", "Referrals", "Logging"]),
        // The service's own tables beside the log: tokens, sessions, the access log, subscriptions,
        // and need-to-know from the case streams. Route code reaches the database only through it.
        .target(name: "ServiceStore", dependencies: ["EventStore", "Postgres", "Referrals", "Crypto", "Logging"]),
        .target(name: "CHTTPShim"),
        .target(name: "HTTP", dependencies: ["CHTTPShim", "Logging"]),
        .target(
            name: "QueryService",
            dependencies: ["HTTP", "Projections", "EventStore", "ServiceStore", "Referrals", "Crypto", "Logging"]),
        // The commands behind the `handoff` binary, a library so that tests can drive them.
        .target(
            name: "HandoffCLI",
            dependencies: [
                "QueryService", "Projections", "EventStore", "Referrals", "Postgres", "HTTP", "Crypto", "Logging",
            ]
        ),
        .executableTarget(name: "handoff", dependencies: ["HandoffCLI"]),
        // How many tests run at once (Swift Testing's width, set when the test process loads).
        .target(name: "CTestWidth", path: "Tests/CTestWidth"),
        // The ephemeral PostgreSQL cluster and per-test databases every integration test uses.
        .target(
            name: "HandoffTestSupport", dependencies: ["Postgres", "EventStore", "CTestWidth"],
            path: "Tests/HandoffTestSupport"),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
        .testTarget(name: "LoggingTests", dependencies: ["Logging"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "HandoffTestSupport"]),
        .testTarget(name: "EventStoreTests", dependencies: ["Crypto", "EventStore", "HandoffTestSupport"]),
        .testTarget(name: "ReferralsTests", dependencies: ["Referrals"]),
        .testTarget(
            name: "ProjectionsTests", dependencies: ["Crypto", "Projections", "HandoffTestSupport", "Logging"]),
        // A tiny blocking HTTP client over a loopback socket, for the tests of the server.
        .target(name: "LoopbackHTTPClient", path: "Tests/LoopbackHTTPClient"),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "LoopbackHTTPClient", "Logging"]),
        .testTarget(
            name: "QueryServiceTests",
            dependencies: [
                "Crypto", "QueryService", "ServiceStore", "HandoffTestSupport", "LoopbackHTTPClient", "Logging",
            ]),
        .testTarget(
            name: "HandoffCLITests", dependencies: ["Crypto", "HandoffCLI", "HandoffTestSupport", "LoopbackHTTPClient"]),
        // Fuzzing (docs/reliability.md): the checks each fuzzer runs on one input, shared by the
        // libFuzzer entry points (built with -DFUZZING -sanitize=fuzzer,address by scripts/fuzz),
        // their corpus-replay mode in a normal build, and FuzzCorpusTests.
        .target(name: "FuzzChecks", dependencies: ["HTTP", "Referrals"], path: "Fuzz/FuzzChecks"),
        .executableTarget(name: "FuzzHTTPParser", dependencies: ["FuzzChecks"], path: "Fuzz/FuzzHTTPParser"),
        .executableTarget(name: "FuzzEventValidation", dependencies: ["FuzzChecks"], path: "Fuzz/FuzzEventValidation"),
        .executableTarget(name: "FuzzRuleset", dependencies: ["FuzzChecks"], path: "Fuzz/FuzzRuleset"),
        .testTarget(name: "FuzzCorpusTests", dependencies: ["FuzzChecks"]),
    ],
    swiftLanguageModes: [.v6]
)
