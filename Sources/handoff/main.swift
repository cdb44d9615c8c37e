import HandoffCLI

#if canImport(Glibc)
    import Glibc
#endif

let status = await HandoffCLI.run(Array(CommandLine.arguments.dropFirst()), context: .process)
exit(status)
