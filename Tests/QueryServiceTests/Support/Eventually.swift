import Testing

/// Waits until `condition` holds, asking every 20 ms, at most 500 times; records an issue and
/// throws when it never does. For states another task reaches (a lock waited for, a queue filled).
func eventuallyTrue(_ condition: () async throws -> Bool) async throws {
    for _ in 0..<500 {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("condition never held")
    throw CancellationError()
}
