import Glibc

/// A strict JSON parser (RFC 8259) for safetensors headers and config files. Input comes from
/// strangers, so nesting depth is capped and every read is bounds-checked.
enum JSON {
    static let maxDepth = 64

    static func parse(_ bytes: UnsafeRawBufferPointer, what: String) throws -> MetaValue {
        var p = Parser(bytes: bytes.bindMemory(to: UInt8.self), what: what)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == p.bytes.count else { throw p.fail("trailing characters") }
        return v
    }

    static func parse(_ text: String, what: String) throws -> MetaValue {
        var copy = text
        return try copy.withUTF8 { try parse(UnsafeRawBufferPointer($0), what: what) }
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        let what: String
        var i = 0

        init(bytes: UnsafeBufferPointer<UInt8>, what: String) {
            self.bytes = bytes
            self.what = what
        }

        func fail(_ why: String) -> LDMError { .corrupt("\(what): invalid JSON at byte \(i): \(why)") }

        var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func skipSpace() {
            while let c = peek, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 }
        }

        mutating func expect(_ c: UInt8) throws {
            guard peek == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
            i += 1
        }

        mutating func literal(_ word: String, _ v: MetaValue) throws -> MetaValue {
            for c in word.utf8 { try expect(c) }
            return v
        }

        mutating func value(depth: Int) throws -> MetaValue {
            guard depth < JSON.maxDepth else { throw fail("nested too deeply") }
            switch peek {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            case .some(let c) where c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39): return try number()
            default: throw fail("unexpected character")
            }
        }

        mutating func object(depth: Int) throws -> MetaValue {
            try expect(UInt8(ascii: "{"))
            var out = [String: MetaValue]()
            skipSpace()
            if peek == UInt8(ascii: "}") { i += 1; return .object(out) }
            while true {
                skipSpace()
                let key = try string()
                skipSpace()
                try expect(UInt8(ascii: ":"))
                skipSpace()
                guard out[key] == nil else { throw fail("duplicate key \"\(key)\"") }
                out[key] = try value(depth: depth + 1)
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "}"))
                return .object(out)
            }
        }

        mutating func array(depth: Int) throws -> MetaValue {
            try expect(UInt8(ascii: "["))
            var out = [MetaValue]()
            skipSpace()
            if peek == UInt8(ascii: "]") { i += 1; return .array(out) }
            while true {
                skipSpace()
                out.append(try value(depth: depth + 1))
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "]"))
                return .array(out)
            }
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= bytes.count else { throw fail("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                i += 1
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x41...0x46: d = c - 0x41 + 10
                case 0x61...0x66: d = c - 0x61 + 10
                default: throw fail("bad hex digit")
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }

        mutating func string() throws -> String {
            try expect(UInt8(ascii: "\""))
            var out = [UInt8]()
            while true {
                guard let c = peek else { throw fail("unterminated string") }
                i += 1
                switch c {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let e = peek else { throw fail("unterminated escape") }
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if code >= 0xD800 && code < 0xDC00, i + 6 <= bytes.count,
                           bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                            let save = i
                            i += 2
                            let low = try hex4()
                            if low >= 0xDC00 && low < 0xE000 {
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                i = save
                            }
                        }
                        let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: throw fail("bad escape")
                    }
                case 0x00..<0x20:
                    throw fail("control character in string")
                default:
                    out.append(c)
                }
            }
        }

        mutating func number() throws -> MetaValue {
            let start = i
            var integral = true
            if peek == UInt8(ascii: "-") { i += 1 }
            var digits = 0
            while let c = peek, c >= 0x30 && c <= 0x39 { i += 1; digits += 1 }
            guard digits > 0 else { throw fail("bad number") }
            if peek == UInt8(ascii: ".") {
                integral = false
                i += 1
                var frac = 0
                while let c = peek, c >= 0x30 && c <= 0x39 { i += 1; frac += 1 }
                guard frac > 0 else { throw fail("bad number") }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                integral = false
                i += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
                var exp = 0
                while let c = peek, c >= 0x30 && c <= 0x39 { i += 1; exp += 1 }
                guard exp > 0 else { throw fail("bad number") }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            if integral, let v = Int(text) { return .int(v) }
            return .double(strtod(text, nil))
        }
    }
}
