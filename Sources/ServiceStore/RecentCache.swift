import Synchronization

/// A bounded map of recently used entries, kept in two generations: entries are added to the
/// current one; when it is half full it becomes the previous one (the older previous is dropped),
/// and an entry found in the previous one moves back into the current one. Every operation is
/// O(1) on average (the insert that turns the generations frees the older one, under the lock); at
/// most `capacity` entries are kept, and at least the `capacity / 2` keys used last; what is
/// dropped is what was least recently used by generation, never an arbitrary entry.
///
/// (Dropping `dictionary.startIndex` when full, as the folds' cache did, kept the table's entries
/// crowded in its upper buckets: lookups there probed long runs of keys.)
public final class RecentCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Generations: Sendable {
        var current: [Key: Value] = [:]
        var previous: [Key: Value] = [:]
    }
    private let state = Mutex(Generations())
    /// The most entries kept (at least 2).
    public let capacity: Int

    public init(capacity: Int) { self.capacity = max(2, capacity) }

    /// The entry for `key`, if it is kept.
    public subscript(key: Key) -> Value? {
        state.withLock { g in
            if let value = g.current[key] { return value }
            guard let value = g.previous.removeValue(forKey: key) else { return nil }
            Self.insert(key, value, into: &g, capacity: capacity)
            return value
        }
    }

    /// The entry for `key`; when there is none, `make()`'s value, kept. `make` runs outside the
    /// cache's lock (two callers may both make a missing value; one of them is kept).
    public func value(for key: Key, orMake make: () throws -> Value) rethrows -> Value {
        if let value = self[key] { return value }
        let value = try make()
        update(key) { $0 = value }
        return value
    }

    /// Reads and changes the entry for `key` in one step (nil: absent; setting nil removes it).
    public func update<R>(_ key: Key, _ body: (inout Value?) -> R) -> R {
        state.withLock { g in
            var value = g.current[key] ?? g.previous[key]
            let result = body(&value)
            g.previous[key] = nil
            if let value {
                Self.insert(key, value, into: &g, capacity: capacity)
            } else {
                g.current[key] = nil
            }
            return result
        }
    }

    /// How many entries are kept.
    public var count: Int { state.withLock { $0.current.count + $0.previous.count } }

    private static func insert(_ key: Key, _ value: Value, into g: inout Generations, capacity: Int) {
        if g.current[key] == nil, g.current.count >= capacity / 2 {
            g.previous = g.current
            g.current = [:]
        }
        g.current[key] = value
    }
}
