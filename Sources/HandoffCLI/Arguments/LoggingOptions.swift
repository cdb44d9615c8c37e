import Logging

extension OptionSpec {
    /// `--log-format` and `--log-level`, on every long-running command (`serve`, `project`,
    /// `watch`, `demo`).
    static let logging: [OptionSpec] = [
        OptionSpec(
            "--log-format", kind: .oneOf(LogFormat.allCases.map(\.rawValue)),
            help: "log lines as JSON or text (default: JSON, text when stderr is a terminal)"),
        OptionSpec(
            "--log-level", kind: .oneOf(LogLevel.allCases.map(\.description)), default: "info",
            help: "the least severe lines logged"),
    ]
}
