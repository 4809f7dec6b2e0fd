/// Reader for the safetensors format: an 8-byte little-endian header length, a JSON header
/// mapping names to {dtype, shape, data_offsets}, then the raw data.
enum SafeTensors {
    /// A header larger than this is refused outright (real headers are well under 10 MB).
    static let maxHeader = 256 << 20

    static let dtypes: [String: TensorType] = [
        "F32": .f32, "F16": .f16, "BF16": .bf16,
        "F64": .other("F64", bytesPerElement: 8), "I64": .other("I64", bytesPerElement: 8),
        "U64": .other("U64", bytesPerElement: 8), "I32": .other("I32", bytesPerElement: 4),
        "U32": .other("U32", bytesPerElement: 4), "I16": .other("I16", bytesPerElement: 2),
        "U16": .other("U16", bytesPerElement: 2), "I8": .other("I8", bytesPerElement: 1),
        "U8": .other("U8", bytesPerElement: 1), "BOOL": .other("BOOL", bytesPerElement: 1),
        "F8_E4M3": .other("F8_E4M3", bytesPerElement: 1), "F8_E5M2": .other("F8_E5M2", bytesPerElement: 1),
    ]

    /// A file named .safetensors, or one whose header length is followed by a JSON object.
    static func looksLike(_ file: MappedFile) -> Bool {
        file.path.hasSuffix(".safetensors") || (file.size >= 9 && file.base.load(fromByteOffset: 8, as: UInt8.self) == UInt8(ascii: "{"))
    }

    static func read(_ file: MappedFile) throws -> (tensors: [WeightTensor], metadata: [String: MetaValue]) {
        let path = file.path
        var r = ByteReader(file.base, count: file.size, what: path)
        let headerLength = try r.u64("header length")
        guard headerLength <= UInt64(r.remaining), headerLength <= UInt64(maxHeader) else {
            throw LDMError.corrupt("\(path): header length \(headerLength) exceeds the file (\(file.size) bytes)")
        }
        let header = try JSON.parse(try r.bytes(Int(headerLength), "header"), what: "\(path) header")
        guard let entries = header.object else {
            throw LDMError.corrupt("\(path): header is not a JSON object")
        }
        let dataStart = r.offset
        let dataSize = file.size - dataStart

        var metadata = [String: MetaValue]()
        var tensors = [WeightTensor]()
        var spans = [(Int, Int, String)]()
        for (name, entry) in entries {
            if name == "__metadata__" {
                guard let m = entry.object else { throw LDMError.corrupt("\(path): __metadata__ is not an object") }
                metadata = m
                continue
            }
            guard let dtypeName = entry["dtype"]?.string else {
                throw LDMError.corrupt("\(path): tensor \(name) has no dtype")
            }
            guard let type = dtypes[dtypeName] else {
                throw LDMError.unsupported("\(path): tensor \(name) has unknown dtype \(dtypeName)")
            }
            guard let shape = entry["shape"]?.ints, shape.count <= 8, shape.allSatisfy({ $0 >= 0 }) else {
                throw LDMError.corrupt("\(path): tensor \(name) has an invalid shape")
            }
            guard let offsets = entry["data_offsets"]?.ints, offsets.count == 2,
                  offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataSize else {
                throw LDMError.corrupt("\(path): tensor \(name) has data offsets outside the file")
            }
            tensors.append(try WeightTensor(name: name, shape: shape, type: type, bytes: file.base + dataStart + offsets[0],
                                            byteCount: offsets[1] - offsets[0], file: file))
            spans.append((offsets[0], offsets[1], name))
        }
        try checkDisjoint(spans, path)
        return (tensors, metadata)
    }
}

/// Throws if two tensors' byte ranges overlap: each weight must own its bytes.
func checkDisjoint(_ spans: [(Int, Int, String)], _ path: String) throws {
    let sorted = spans.filter { $0.0 < $0.1 }.sorted { $0.0 < $1.0 }
    for i in sorted.indices.dropFirst() where sorted[i].0 < sorted[i - 1].1 {
        throw LDMError.corrupt("\(path): tensors \(sorted[i - 1].2) and \(sorted[i].2) overlap")
    }
}
