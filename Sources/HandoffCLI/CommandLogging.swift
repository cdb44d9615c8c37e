import Logging

extension CLIContext {
    /// The logger of a long-running command: lines on this context's standard error, in the
    /// format and from the level its `--log-format` and `--log-level` ask for (JSON unless stderr
    /// is a terminal; `info`). In the real process it also becomes the process-wide logger, so
    /// that every module's lines follow the same flags.
    func logger(_ args: ParsedArguments, label: String) -> Logger {
        let format = args.string("--log-format").flatMap(LogFormat.init(rawValue:)) ?? (isTerminal ? .text : .json)
        let level = args.string("--log-level").flatMap(LogLevel.init(name:)) ?? .info
        let sink = LineSink(format: format, write: standardError)
        if isProcess { LoggingSystem.bootstrap(sink: sink, level: level) }
        return Logger(label: label, sink: sink, logLevel: level)
    }
}
