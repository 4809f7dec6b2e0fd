/// All weights of a model under their canonical (CompVis checkpoint) names, plus the
/// metadata found with them. Files stay mapped as long as a tensor from them is referenced.
public final class TensorStore {
    public private(set) var tensors: [String: WeightTensor] = [:]
    public var metadata: [String: MetaValue] = [:]
    /// A transformers tokenizer folder found beside the weights (a pipeline's tokenizer/).
    public var tokenizerFolder: String?

    public init() {}

    func add(_ t: WeightTensor, as name: String) throws {
        guard tensors[name] == nil else { throw LDMError.corrupt("tensor \(name) appears twice") }
        tensors[name] = t
    }

    public func has(_ name: String) -> Bool { tensors[name] != nil }

    /// Drops the resident pages of every mapped weight file; they are read again (from the page
    /// cache, or the file) when next touched.
    public func releasePages() {
        var seen = Set<ObjectIdentifier>()
        for t in tensors.values where seen.insert(ObjectIdentifier(t.file)).inserted {
            t.file.release(t.file.base, t.file.size)
        }
    }

    public func names(withPrefix prefix: String) -> [String] {
        tensors.keys.filter { $0.hasPrefix(prefix) }.sorted()
    }

    public var scope: WeightScope { WeightScope(store: self, prefix: "") }

    /// The type most of the weights' elements are stored in.
    public var dominantType: TensorType {
        var bytes = [String: (TensorType, Int)]()
        for t in tensors.values { bytes[t.type.description, default: (t.type, 0)].1 += t.count }
        return bytes.values.max { $0.1 < $1.1 }?.0 ?? .f32
    }

    public var parameterCount: Int { tensors.values.reduce(0) { $0 + $1.count } }
}

/// A view of the store under a name prefix, so model code reads `scope["conv1.weight"]`.
public struct WeightScope {
    let store: TensorStore
    public let prefix: String

    public func callAsFunction(_ sub: String) -> WeightScope {
        WeightScope(store: store, prefix: prefix + sub + ".")
    }

    public func has(_ name: String) -> Bool { store.has(prefix + name) }

    public func tensor(_ name: String) throws -> WeightTensor {
        guard let t = store.tensors[prefix + name] else {
            throw LDMError.model("the model has no tensor \(prefix + name)")
        }
        return t
    }

    public func tensor(_ name: String, shape: [Int]) throws -> WeightTensor {
        let t = try tensor(name)
        try t.expect(shape)
        return t
    }

    /// Some tensor under this scope whose name ends with `suffix` (the first in name order).
    public func first(endingWith suffix: String) -> WeightTensor? {
        store.names(withPrefix: prefix).first { $0.hasSuffix(suffix) }.flatMap { store.tensors[$0] }
    }

    /// Indices `i` for which a name `prefix + base + i + "."...` exists, in order; they must be 0..<n.
    public func indices(_ base: String) throws -> Int {
        let head = prefix + base
        var seen = Set<Int>()
        for name in store.names(withPrefix: head) {
            let rest = name.dropFirst(head.count)
            if let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]) { seen.insert(i) }
        }
        guard seen == Set(0..<seen.count) else {
            throw LDMError.model("\(head)N indices are not contiguous from 0: \(seen.sorted())")
        }
        return seen.count
    }
}
