/// Reader for GGUF v2/v3 (ggml's single-file format): magic, version, tensor and key/value
/// counts, typed metadata, tensor infos, then aligned tensor data.
enum GGUF {
    static let magic: UInt32 = 0x4655_4747  // "GGUF" little-endian
    static let maxDims = 4                   // ggml's GGML_MAX_DIMS
    static let maxArrayDepth = 4
    static let defaultAlignment = 32

    static let types: [UInt32: TensorType] = [0: .f32, 1: .f16, 8: .q8_0, 30: .bf16]
    /// ggml type ids this reader knows about but cannot use (quantizations other than Q8_0).
    static let knownUnsupported: Set<UInt32> = Set(2...29).union(31...39).subtracting([4, 5, 8])

    static func looksLike(_ file: MappedFile) -> Bool {
        file.size >= 4 && UInt32(littleEndian: file.base.loadUnaligned(as: UInt32.self)) == magic
    }

    static func read(_ file: MappedFile) throws -> (tensors: [WeightTensor], metadata: [String: MetaValue]) {
        let path = file.path
        var r = ByteReader(file.base, count: file.size, what: path)
        guard try r.u32("magic") == magic else { throw LDMError.badMagic("\(path) is not a GGUF file") }
        let version = try r.u32("version")
        guard version == 2 || version == 3 else {
            throw LDMError.unsupported("\(path): GGUF version \(version) is not supported (2 and 3 are)")
        }
        // Every tensor info takes at least 24 bytes and every key/value at least 13, so larger
        // counts are lies and are refused before anything is reserved for them.
        let tensorCount = try r.count("tensor count", limit: r.remaining / 24)
        let kvCount = try r.count("key/value count", limit: r.remaining / 13)

        var metadata = [String: MetaValue]()
        for i in 0..<kvCount {
            let key = try r.string(try r.count("key \(i) length"), "key \(i)")
            let type = try r.u32("type of \(key)")
            guard metadata[key] == nil else { throw LDMError.corrupt("\(path): duplicate key \(key)") }
            metadata[key] = try value(&r, type: type, key: key, depth: 0)
        }

        var alignment = defaultAlignment
        if let a = metadata["general.alignment"] {
            guard let v = a.int, v > 0, v <= 1 << 20, v & (v - 1) == 0 else {
                throw LDMError.corrupt("\(path): general.alignment must be a power of two up to 1 MiB")
            }
            alignment = v
        }

        struct Info { let name: String; let shape: [Int]; let type: TensorType; let offset: Int }
        var infos = [Info]()
        infos.reserveCapacity(tensorCount)
        var seen = Set<String>()
        for i in 0..<tensorCount {
            let name = try r.string(try r.count("tensor \(i) name length"), "tensor \(i) name")
            guard seen.insert(name).inserted else { throw LDMError.corrupt("\(path): duplicate tensor \(name)") }
            let nDims = Int(try r.u32("dims of \(name)"))
            guard nDims >= 1, nDims <= maxDims else {
                throw LDMError.corrupt("\(path): tensor \(name) has \(nDims) dimensions (1 to \(maxDims) allowed)")
            }
            var ne = [Int]()
            for d in 0..<nDims {
                let v = try r.u64("dim \(d) of \(name)")
                guard v >= 1, v <= UInt64(Shape.maxElements) else {
                    throw LDMError.corrupt("\(path): tensor \(name) has dimension \(v)")
                }
                ne.append(Int(v))
            }
            let typeId = try r.u32("type of \(name)")
            guard let type = types[typeId] else {
                if knownUnsupported.contains(typeId) {
                    throw LDMError.unsupported("\(path): tensor \(name) has ggml type \(typeId); F32, F16, BF16 and Q8_0 are supported")
                }
                throw LDMError.corrupt("\(path): tensor \(name) has unknown type id \(typeId)")
            }
            let offset = try r.u64("offset of \(name)")
            guard offset <= UInt64(file.size), Int(offset) % alignment == 0 else {
                throw LDMError.corrupt("\(path): tensor \(name) has offset \(offset), outside the file or unaligned")
            }
            // ggml lists the fastest-varying dimension first; shapes here are row-major.
            infos.append(Info(name: name, shape: ne.reversed(), type: type, offset: Int(offset)))
        }

        let dataStart = (r.offset + alignment - 1) / alignment * alignment
        guard dataStart <= file.size else { throw LDMError.corrupt("\(path): no room for tensor data") }
        let dataSize = file.size - dataStart
        var tensors = [WeightTensor]()
        var spans = [(Int, Int, String)]()
        for info in infos {
            guard let count = try? Shape.count(info.shape), let bytes = info.type.byteCount(count) else {
                throw LDMError.corrupt("\(path): tensor \(info.name) of shape \(info.shape) has an invalid size for \(info.type)")
            }
            guard info.offset <= dataSize, bytes <= dataSize - info.offset else {
                throw LDMError.corrupt("\(path): tensor \(info.name) extends past the end of the file")
            }
            tensors.append(try WeightTensor(name: info.name, shape: info.shape, type: info.type,
                                            bytes: file.base + dataStart + info.offset, byteCount: bytes, file: file))
            spans.append((info.offset, info.offset + bytes, info.name))
        }
        try checkDisjoint(spans, path)
        return (tensors, metadata)
    }

    private static func value(_ r: inout ByteReader, type: UInt32, key: String, depth: Int) throws -> MetaValue {
        switch type {
        case 0: return .int(Int(try r.load(UInt8.self, key)))
        case 1: return .int(Int(try r.load(Int8.self, key)))
        case 2: return .int(Int(try r.load(UInt16.self, key)))
        case 3: return .int(Int(try r.load(Int16.self, key)))
        case 4: return .int(Int(try r.load(UInt32.self, key)))
        case 5: return .int(Int(try r.load(Int32.self, key)))
        case 6: return .double(Double(Float(bitPattern: try r.u32(key))))
        case 7:
            let b = try r.u8(key)
            guard b <= 1 else { throw LDMError.corrupt("\(r.what): \(key) is a bool with value \(b)") }
            return .bool(b == 1)
        case 8: return .string(try r.string(try r.count("length of \(key)"), key))
        case 9:
            guard depth < maxArrayDepth else { throw LDMError.corrupt("\(r.what): \(key) nests arrays too deeply") }
            let elementType = try r.u32("element type of \(key)")
            guard let size = minimumSize(elementType) else {
                throw LDMError.corrupt("\(r.what): \(key) has unknown element type \(elementType)")
            }
            let n = try r.count("length of \(key)", limit: r.remaining / size)
            var out = [MetaValue]()
            out.reserveCapacity(n)
            for _ in 0..<n { out.append(try value(&r, type: elementType, key: key, depth: depth + 1)) }
            return .array(out)
        case 10:
            let v = try r.u64(key)
            return v <= UInt64(Int.max) ? .int(Int(v)) : .double(Double(v))
        case 11: return .int(Int(try r.load(Int64.self, key)))
        case 12: return .double(Double(bitPattern: try r.u64(key)))
        default: throw LDMError.corrupt("\(r.what): \(key) has unknown value type \(type)")
        }
    }

    /// The fewest bytes one value of a type occupies (strings and arrays: their length field).
    private static func minimumSize(_ type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 8, 10, 11, 12: return 8
        case 9: return 12
        default: return nil
        }
    }
}
