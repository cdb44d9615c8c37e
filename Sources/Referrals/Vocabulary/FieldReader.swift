import Foundation

/// Reads the members of one JSON object for a decoder, tracking which were read so that
/// ``finish()`` can reject unknown members: no field the vocabulary does not name gets in.
struct FieldReader {
    let object: JSONObject
    let path: String
    private var read: Set<String> = []
    private let code: ReferralsError.Code

    init(_ value: JSONValue, path: String, code: ReferralsError.Code = .invalidEvent) throws(ReferralsError) {
        guard let object = value.objectValue else {
            throw ReferralsError(code, field: path, "must be an object")
        }
        self.object = object
        self.path = path
        self.code = code
    }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ message: String) -> ReferralsError {
        ReferralsError(code, field: fieldPath(key), message)
    }

    mutating func optionalValue(_ key: String) -> JSONValue? {
        read.insert(key)
        return object[key]
    }

    mutating func value(_ key: String) throws(ReferralsError) -> JSONValue {
        guard let value = optionalValue(key) else { throw error(key, "is required") }
        return value
    }

    mutating func string(_ key: String, maxLength: Int = 200) throws(ReferralsError) -> String {
        guard let s = try value(key).stringValue else { throw error(key, "must be a string") }
        try checkText(s, key: key, maxLength: maxLength)
        return s
    }

    mutating func optionalString(_ key: String, maxLength: Int = 200) throws(ReferralsError) -> String? {
        guard let value = optionalValue(key) else { return nil }
        guard let s = value.stringValue else { throw error(key, "must be a string") }
        try checkText(s, key: key, maxLength: maxLength)
        return s
    }

    func checkText(_ s: String, key: String, maxLength: Int) throws(ReferralsError) {
        guard !s.isEmpty else { throw error(key, "must not be empty") }
        guard s.unicodeScalars.count <= maxLength else { throw error(key, "must be at most \(maxLength) characters") }
        guard !s.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw error(key, "must not contain control characters")
        }
    }

    mutating func bool(_ key: String) throws(ReferralsError) -> Bool {
        guard let b = try value(key).boolValue else { throw error(key, "must be a boolean") }
        return b
    }

    mutating func optionalBool(_ key: String) throws(ReferralsError) -> Bool? {
        guard let value = optionalValue(key) else { return nil }
        guard let b = value.boolValue else { throw error(key, "must be a boolean") }
        return b
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) throws(ReferralsError) -> Int {
        guard let n = try value(key).numberValue?.intValue else { throw error(key, "must be an integer") }
        guard range.contains(n) else { throw error(key, "must be between \(range.lowerBound) and \(range.upperBound)") }
        return n
    }

    mutating func optionalInt(_ key: String, in range: ClosedRange<Int>) throws(ReferralsError) -> Int? {
        guard object[key] != nil else {
            read.insert(key)
            return nil
        }
        return try int(key, in: range)
    }

    mutating func code<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type) throws(ReferralsError) -> E
    where E.RawValue == String {
        guard let s = try value(key).stringValue else { throw error(key, "must be a string") }
        guard let e = E(rawValue: s) else { throw error(key, "must be one of \(Self.list(E.self))") }
        return e
    }

    mutating func optionalCode<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type) throws(ReferralsError)
        -> E?
    where E.RawValue == String {
        guard object[key] != nil else {
            read.insert(key)
            return nil
        }
        return try code(key, type)
    }

    static func list<E: RawRepresentable & CaseIterable>(_: E.Type) -> String where E.RawValue == String {
        E.allCases.map(\.rawValue).joined(separator: ", ")
    }

    mutating func array(_ key: String, maxCount: Int) throws(ReferralsError) -> [JSONValue] {
        guard let a = try value(key).arrayValue else { throw error(key, "must be an array") }
        guard a.count <= maxCount else { throw error(key, "must have at most \(maxCount) elements") }
        return a
    }

    mutating func codeList<E: RawRepresentable & CaseIterable & Hashable>(
        _ key: String, _: E.Type, allowEmpty: Bool
    ) throws(ReferralsError) -> [E] where E.RawValue == String {
        let elements = try array(key, maxCount: E.allCases.count)
        guard allowEmpty || !elements.isEmpty else { throw error(key, "must not be empty") }
        var result: [E] = []
        for (i, element) in elements.enumerated() {
            guard let s = element.stringValue, let e = E(rawValue: s) else {
                throw ReferralsError(code, field: "\(fieldPath(key))[\(i)]", "must be one of \(Self.list(E.self))")
            }
            guard !result.contains(e) else {
                throw ReferralsError(code, field: "\(fieldPath(key))[\(i)]", "is listed twice")
            }
            result.append(e)
        }
        return result
    }

    mutating func object(_ key: String) throws(ReferralsError) -> FieldReader {
        try FieldReader(try value(key), path: fieldPath(key), code: code)
    }

    /// Throws for the first member that was never read.
    func finish() throws(ReferralsError) {
        for key in object.keys where !read.contains(key) {
            // Echo a key back only when it looks like a field name: a key is submitted data too.
            let printable = Identifiers.isValidCaseId(key.replacingOccurrences(of: "_", with: "-"))
            throw ReferralsError(code, field: fieldPath(printable ? key : "<unknown>"), "is not a known field")
        }
    }
}
