import Foundation
import Referrals

/// Writes compact JSON straight into bytes, for the hot read routes: no `JSONValue` tree (one
/// dictionary per object) is built only to be serialized once.
///
/// Commas are placed by the writer; the caller only opens, names and closes:
/// ```swift
/// var w = JSONBytes()
/// w.beginObject()
/// w.key("deadlines"); w.beginArray(); …; w.endArray()
/// w.key("next"); w.string(cursor)   // or w.null()
/// w.endObject()
/// ```
struct JSONBytes {
    private(set) var bytes: [UInt8] = []
    /// One entry per open container: whether it already holds a member.
    private var filled: [Bool] = []
    /// A key was written and its value is next (no comma before it).
    private var afterKey = false

    init(capacity: Int = 1024) { bytes.reserveCapacity(capacity) }

    private mutating func valueStarts() {
        if afterKey {
            afterKey = false
            return
        }
        if let last = filled.last {
            if last { bytes.append(UInt8(ascii: ",")) }
            filled[filled.count - 1] = true
        }
    }

    mutating func beginObject() { open(UInt8(ascii: "{")) }
    mutating func endObject() { close(UInt8(ascii: "}")) }
    mutating func beginArray() { open(UInt8(ascii: "[")) }
    mutating func endArray() { close(UInt8(ascii: "]")) }

    private mutating func open(_ bracket: UInt8) {
        valueStarts()
        bytes.append(bracket)
        filled.append(false)
    }

    private mutating func close(_ bracket: UInt8) {
        filled.removeLast()
        bytes.append(bracket)
    }

    /// A member name; the next value written is its value.
    mutating func key(_ name: String) {
        valueStarts()
        JSONValue.writeString(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    mutating func string(_ value: String) {
        valueStarts()
        JSONValue.writeString(value, into: &bytes)
    }

    /// A string, or `null` for nil.
    mutating func string(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    mutating func null() {
        valueStarts()
        bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])  // null
    }

    mutating func bool(_ value: Bool) {
        valueStarts()
        if value {
            bytes.append(contentsOf: [0x74, 0x72, 0x75, 0x65])  // true
        } else {
            bytes.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])  // false
        }
    }

    mutating func number(_ value: Int) {
        valueStarts()
        bytes.append(contentsOf: String(value).utf8)
    }

    /// `"name": value` for a string.
    mutating func member(_ name: String, _ value: String?) {
        key(name)
        string(value)
    }
}
