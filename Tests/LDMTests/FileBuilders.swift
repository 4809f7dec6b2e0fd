import Foundation
@testable import LDM

/// Little-endian byte strings for building good and hostile model files.
struct Bytes {
    var data = Data()

    mutating func u8(_ v: UInt8) { data.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func raw(_ s: String) { data.append(contentsOf: Array(s.utf8)) }
    mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); raw(s) }
    mutating func zeros(_ n: Int) { data.append(Data(count: n)) }
    mutating func pad(to alignment: Int) { zeros((alignment - data.count % alignment) % alignment) }

    func write(_ path: String) throws { try data.write(to: URL(fileURLWithPath: path)) }
}

/// A safetensors file from a header JSON text and a data section.
func safetensors(header: String, data: Int = 0) -> Bytes {
    var b = Bytes()
    b.u64(UInt64(header.utf8.count))
    b.raw(header)
    b.zeros(data)
    return b
}

/// A well-formed safetensors file of F32 tensors.
func writeSafeTensors(_ path: String, _ tensors: [(String, [Int], [Float])]) throws {
    var entries = [String]()
    var body = Bytes()
    for (name, shape, values) in tensors {
        let begin = body.data.count
        for v in values { body.f32(v) }
        entries.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(body.data.count)]}")
    }
    var b = safetensors(header: "{" + entries.joined(separator: ",") + "}")
    b.data.append(body.data)
    try b.write(path)
}

/// GGUF pieces: a header, key/values and tensor infos, then data at 32-byte alignment.
struct GGUFFile {
    var version: UInt32 = 3
    var tensorCount: UInt64?
    var kvCount: UInt64?
    var kvs = [(String, (inout Bytes) -> Void)]()
    var infos = [(name: String, dims: [UInt64], type: UInt32, offset: UInt64)]()
    var dataBytes = 0
    var alignment = 32

    mutating func kv(_ key: String, _ value: @escaping (inout Bytes) -> Void) { kvs.append((key, value)) }

    mutating func tensor(_ name: String, dims: [UInt64], type: UInt32 = 0, offset: UInt64) {
        infos.append((name, dims, type, offset))
    }

    var bytes: Bytes {
        var b = Bytes()
        b.raw("GGUF")
        b.u32(version)
        b.u64(tensorCount ?? UInt64(infos.count))
        b.u64(kvCount ?? UInt64(kvs.count))
        for (key, value) in kvs {
            b.string(key)
            value(&b)
        }
        for info in infos {
            b.string(info.name)
            b.u32(UInt32(info.dims.count))
            for d in info.dims { b.u64(d) }
            b.u32(info.type)
            b.u64(info.offset)
        }
        b.pad(to: alignment)
        b.zeros(dataBytes)
        return b
    }
}
