import Foundation

/// Writes compact JSON straight into bytes, for the hot read routes and the projector's pre-rendered
/// documents: no `JSONValue` tree (one dictionary per object) is built only to be serialized once.
///
/// Commas are placed by the writer; the caller only opens, names and closes:
/// ```swift
/// var w = JSONBytes()
/// w.beginObject()
/// w.key("deadlines"); w.beginArray(); …; w.endArray()
/// w.key("next"); w.string(cursor)   // or w.null()
/// w.endObject()
/// ```
package struct JSONBytes {
    package private(set) var bytes: [UInt8] = []
    /// Where ``gap()`` left room for a value, as offsets into `bytes`, in order.
    package private(set) var gaps: [Int] = []
    /// One entry per open container: whether it already holds a member.
    private var filled: [Bool] = []
    /// A key was written and its value is next (no comma before it).
    private var afterKey = false

    package init(capacity: Int = 1024) { bytes.reserveCapacity(capacity) }

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

    package mutating func beginObject() { open(UInt8(ascii: "{")) }
    package mutating func endObject() { close(UInt8(ascii: "}")) }
    package mutating func beginArray() { open(UInt8(ascii: "[")) }
    package mutating func endArray() { close(UInt8(ascii: "]")) }

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
    package mutating func key(_ name: String) {
        valueStarts()
        JSONValue.writeString(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    package mutating func string(_ value: String) {
        valueStarts()
        JSONValue.writeString(value, into: &bytes)
    }

    /// A string, or `null` for nil.
    package mutating func string(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    package mutating func null() {
        valueStarts()
        bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])  // null
    }

    package mutating func bool(_ value: Bool) {
        valueStarts()
        if value {
            bytes.append(contentsOf: [0x74, 0x72, 0x75, 0x65])  // true
        } else {
            bytes.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])  // false
        }
    }

    package mutating func number(_ value: Int) {
        valueStarts()
        bytes.append(contentsOf: String(value).utf8)
    }

    /// `"name": value` for a string.
    package mutating func member(_ name: String, _ value: String?) {
        key(name)
        string(value)
    }

    /// A value left out, to be filled in later at this place: a member's value or an array
    /// element. Its offset goes to ``gaps``; the writer carries on as if a value had been written.
    package mutating func gap() {
        valueStarts()
        gaps.append(bytes.count)
    }
}
