extension HandoffCLI {
    static func dispatchMore(_ args: ParsedArguments, _ context: CLIContext) async throws {
        throw CLIError(message: "\(args.subcommandPath.joined(separator: " ")) is not available in this build yet")
    }
}
