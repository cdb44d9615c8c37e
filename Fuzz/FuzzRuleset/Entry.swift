import FuzzChecks

#if FUZZING
    /// libFuzzer's entry point (built by scripts/fuzz with -DFUZZING -sanitize=fuzzer,address).
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        FuzzEntry.run(data, size, RulesetFuzzing.check)
    }

    /// The entry point SwiftPM binds `main` to; hands over to libFuzzer's driver.
    @_cdecl("FuzzRuleset_main")
    public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
        FuzzEntry.runDriver(argc, argv, fuzzOneInput)
    }
#else
    import Glibc

    /// Without FUZZING: replays the corpus files or folders given as arguments, e.g.
    /// `swift run FuzzRuleset Fuzz/corpus/ruleset`.
    @main
    enum CorpusRunner {
        static func main() {
            exit(CorpusReplay.main(name: "FuzzRuleset", check: RulesetFuzzing.check))
        }
    }
#endif
