/// A metadata value: a GGUF key/value, a JSON value of a safetensors header or config.json.
public indirect enum MetaValue: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([MetaValue])
    case object([String: MetaValue])

    public var int: Int? {
        switch self {
        case .int(let v): return v
        case .double(let d) where d == d.rounded() && abs(d) < 9e15: return Int(d)
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    public var double: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let d): return d
        default: return nil
        }
    }

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var array: [MetaValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var object: [String: MetaValue]? { if case .object(let o) = self { return o } else { return nil } }

    public subscript(key: String) -> MetaValue? { object?[key] }

    /// An array of integers, or nil if any element is not one.
    public var ints: [Int]? {
        guard let a = array else { return nil }
        var out = [Int]()
        out.reserveCapacity(a.count)
        for v in a {
            guard let i = v.int else { return nil }
            out.append(i)
        }
        return out
    }

    public var strings: [String]? {
        guard let a = array else { return nil }
        var out = [String]()
        out.reserveCapacity(a.count)
        for v in a {
            guard let s = v.string else { return nil }
            out.append(s)
        }
        return out
    }
}
