import Glibc
import Synchronization

/// Writes the status line and header block of a response.
enum ResponseHead {
    enum Framing {
        /// `Content-Length: n`.
        case length(Int)
        /// `Transfer-Encoding: chunked`.
        case chunked
        /// Neither: the body ends when the connection closes (HTTP/1.0 streams), or there is none (204, 304).
        case none
    }

    /// The head bytes. `Content-Length`, `Transfer-Encoding`, `Connection` and `Date` come from
    /// the server; fields with those names in `headers` are dropped, and so is any field whose
    /// name is not a token or whose value holds CR, LF or NUL (no response splitting).
    static func encode(
        status: HTTPStatus, headers: HTTPHeaders, framing: Framing, keepAlive: Bool, version: HTTPVersion
    ) -> [UInt8] {
        var text = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n"
        for field in headers {
            let lowered = field.name.lowercasedASCII()
            guard !["content-length", "transfer-encoding", "connection", "date"].contains(lowered),
                !field.name.isEmpty, field.name.utf8.allSatisfy(ASCII.isTokenCharacter),
                field.value.utf8.allSatisfy(ASCII.isFieldValueCharacter)
            else { continue }
            text += "\(field.name): \(field.value)\r\n"
        }
        text += "Date: \(HTTPDate.now())\r\n"
        switch framing {
        case .length(let length): text += "Content-Length: \(length)\r\n"
        case .chunked: text += "Transfer-Encoding: chunked\r\n"
        case .none: break
        }
        if !keepAlive {
            text += "Connection: close\r\n"
        } else if version == .http1_0 {
            text += "Connection: keep-alive\r\n"
        }
        text += "\r\n"
        return Array(text.utf8)
    }
}

/// The IMF-fixdate for the `Date` header (`Sun, 06 Nov 1994 08:49:37 GMT`), cached per second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func now() -> String {
        let second = time(nil)
        return cache.withLock { cache in
            if cache.second == second { return cache.text }
            cache = (second, format(second))
            return cache.text
        }
    }

    static func format(_ seconds: Int) -> String {
        var time = seconds
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
