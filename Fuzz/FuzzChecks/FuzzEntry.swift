/// The body of every `LLVMFuzzerTestOneInput`: copies libFuzzer's buffer and runs one check,
/// trapping on a violated invariant so that libFuzzer records the input as a crash.
public enum FuzzEntry {
    public static func run(
        _ data: UnsafePointer<UInt8>?, _ size: Int, _ check: ([UInt8]) throws(InvariantViolation) -> Void
    ) -> Int32 {
        let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        do {
            try check(input)
        } catch {
            fatalError("fuzz invariant violated: \(error)")
        }
        return 0
    }
}

#if FUZZING
    /// libFuzzer's driver, `int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*)(const uint8_t *, size_t))`.
    /// Declared with `@_silgen_name` because this package has no C target for fuzzing; every
    /// argument is a pointer and the result an `int`, which the Swift and C conventions pass alike
    /// on the platforms we fuzz on (x86_64 and arm64 Linux).
    @_silgen_name("LLVMFuzzerRunDriver")
    private func llvmFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    extension FuzzEntry {
        /// Runs libFuzzer with the process arguments. SwiftPM links every executable with `main`
        /// bound to `<Module>_main` (so that tests can import executables), which keeps libFuzzer's
        /// own `main` out of the link; each fuzz executable defines `<Module>_main` to call this.
        public static func runDriver(
            _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
            _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
        ) -> Int32 {
            var argc = argc
            var argv = argv
            return llvmFuzzerRunDriver(&argc, &argv, testOneInput)
        }
    }
#endif
