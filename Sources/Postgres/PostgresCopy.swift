/// The text format of `COPY … FROM STDIN` (``Connection/copyIn(_:_:)``): columns separated by
/// tabs, rows ended by a newline, `\N` for NULL.
public enum PostgresCopy {
    /// Appends `bytes` (UTF-8) as one column's value: the backslash, tab, newline and carriage
    /// return escaped with a backslash (`\\`, `\t`, `\n`, `\r`), everything else as it is, so that
    /// `COPY` reads back exactly `bytes`. Those four are single bytes that never occur inside a
    /// multi-byte sequence, so escaping byte-wise is exact; the runs between them are copied whole.
    public static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var start = 0
        for i in 0..<bytes.count {
            let escaped: UInt8
            switch bytes[i] {
            case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
            case UInt8(ascii: "\t"): escaped = UInt8(ascii: "t")
            case UInt8(ascii: "\n"): escaped = UInt8(ascii: "n")
            case UInt8(ascii: "\r"): escaped = UInt8(ascii: "r")
            default: continue
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
            out.append(UInt8(ascii: "\\"))
            out.append(escaped)
            start = i + 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]))
    }
}
