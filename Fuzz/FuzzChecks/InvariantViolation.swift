/// A property a fuzz check expects of the code under test did not hold for an input.
///
/// The libFuzzer entry points turn it into a crash (so libFuzzer keeps the input); the corpus
/// replay and `FuzzCorpusTests` report it with the file that caused it.
public struct InvariantViolation: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Throws ``InvariantViolation`` with `message` unless `condition` holds.
@inline(__always)
func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws(InvariantViolation) {
    if !condition { throw InvariantViolation(message()) }
}
