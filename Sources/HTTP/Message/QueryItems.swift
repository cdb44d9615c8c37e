/// The decoded query of a request target, in order: `?after=abc&types=A,B`.
///
/// Names and values are percent-decoded, `+` is read as a space, and an item without `=` has an
/// empty value. `query["after"]` is the first value of that name.
public struct QueryItems: Sendable, Hashable, Sequence {
    public struct Item: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public private(set) var items: [Item]

    public init(_ items: [Item] = []) {
        self.items = items
    }

    public init(_ pairs: [(String, String)]) {
        self.items = pairs.map { Item(name: $0.0, value: $0.1) }
    }

    /// Parses the raw query (without the `?`); `nil` when an escape is malformed or not UTF-8.
    public init?(percentEncoded query: some Collection<UInt8>) {
        var items: [Item] = []
        for part in query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let name: String?
            let value: String?
            if let equals = part.firstIndex(of: UInt8(ascii: "=")) {
                name = PercentDecoding.decode(part[part.startIndex..<equals], plusIsSpace: true)
                value = PercentDecoding.decode(part[part.index(after: equals)...], plusIsSpace: true)
            } else {
                name = PercentDecoding.decode(part, plusIsSpace: true)
                value = ""
            }
            guard let name, let value else { return nil }
            items.append(Item(name: name, value: value))
        }
        self.items = items
    }

    public var isEmpty: Bool { items.isEmpty }

    public func makeIterator() -> IndexingIterator<[Item]> { items.makeIterator() }

    /// The first value of the named item (names are case-sensitive), or `nil`.
    public subscript(name: String) -> String? {
        items.first { $0.name == name }?.value
    }

    /// Every value of the named item, in order (`?types=A&types=B`).
    public func values(for name: String) -> [String] {
        items.filter { $0.name == name }.map(\.value)
    }
}
