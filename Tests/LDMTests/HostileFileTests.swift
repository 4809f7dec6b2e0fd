import Foundation
import XCTest
@testable import LDM

extension LDMError {
    var kind: String {
        switch self {
        case .invalidArgument: return "invalidArgument"
        case .notFound: return "notFound"
        case .io: return "io"
        case .badMagic: return "badMagic"
        case .corrupt: return "corrupt"
        case .unsupported: return "unsupported"
        case .model: return "model"
        case .shape: return "shape"
        case .outOfMemory: return "outOfMemory"
        case .cancelled: return "cancelled"
        }
    }
}

/// Every class of broken or hostile file (REFERENCE.md's list and more) must give its own
/// error, never a crash, and never an allocation the file cannot justify.
final class HostileFileTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws { dir = try temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Writes `bytes` and asserts that loading it fails with `kind`; returns the message.
    @discardableResult
    func expect(_ kind: String, _ bytes: Bytes, ext: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let path = dir + "/case." + ext
        try bytes.write(path)
        do {
            _ = try Model(path: path)
            XCTFail("\(what): loaded", file: file, line: line)
        } catch let e as LDMError {
            XCTAssertEqual(e.kind, kind, "\(what): \(e)", file: file, line: line)
            XCTAssertFalse(e.message.isEmpty, file: file, line: line)
            return e.message
        }
        return ""
    }

    func st(_ kind: String, _ header: String, data: Int = 0, _ what: String, line: UInt = #line) throws {
        try expect(kind, safetensors(header: header, data: data), ext: "safetensors", what, line: line)
    }

    func gg(_ kind: String, _ f: GGUFFile, _ what: String, line: UInt = #line) throws {
        try expect(kind, f.bytes, ext: "gguf", what, line: line)
    }

    func tensorHeader(_ dtype: String = "F32", shape: String = "[2,2]", offsets: String = "[0,16]") -> String {
        "{\"w\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}}"
    }

    func testSafeTensors() throws {
        var tiny = Bytes(); tiny.u64(100); tiny.raw("{\"a\":")
        try expect("corrupt", tiny, ext: "safetensors", "header longer than the file")
        var huge = Bytes(); huge.u64(UInt64.max); huge.raw("{}")
        try expect("corrupt", huge, ext: "safetensors", "header length 2^64-1")
        var three = Bytes(); three.raw("abc")
        try expect("corrupt", three, ext: "safetensors", "3-byte file")
        try st("corrupt", "[1,2,3]", "header not an object")
        try st("corrupt", "\"text\"", "header a string")
        try st("corrupt", "{\"w\":{\"dtype\":\"F32\",", "truncated JSON")
        try st("corrupt", "{\"a\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}", "nesting 100000 deep")
        try st("corrupt", "{\"a\":1,\"a\":2}", "duplicate keys")
        try st("corrupt", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} trailing", data: 4, "trailing garbage")
        try st("unsupported", tensorHeader("F12"), data: 16, "unknown dtype")
        try st("corrupt", tensorHeader(offsets: "[0,16]"), data: 8, "data past the end")
        try st("corrupt", tensorHeader(offsets: "[0,12]"), data: 16, "offsets not matching dtype x shape")
        try st("corrupt", tensorHeader(offsets: "[16,0]"), data: 16, "reversed offsets")
        try st("corrupt", tensorHeader(offsets: "[-4,12]"), data: 16, "negative offset")
        try st("corrupt", tensorHeader(shape: "[-2,2]"), data: 16, "negative dimension")
        try st("corrupt", tensorHeader(shape: "[4294967296,4294967296,4294967296]", offsets: "[0,16]"), data: 16, "element count overflowing 2^64")
        try st("corrupt", tensorHeader(shape: "[1,1,1,1,1,1,1,1,1]", offsets: "[0,4]"), data: 16, "nine dimensions")
        try st("corrupt", tensorHeader(shape: "[2.5,2]"), data: 16, "fractional dimension")
        try st("corrupt", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", data: 4, "no dtype")
        try st("corrupt", "{\"__metadata__\":[1],\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data: 4, "metadata not an object")
        try st("corrupt", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", data: 12, "overlapping tensors")
        try st("model", tensorHeader(), data: 16, "valid file, no model in it")
    }

    func testGGUFHeader() throws {
        var bad = Bytes(); bad.raw("GGUG"); bad.zeros(60)
        try expect("badMagic", bad, ext: "gguf", "wrong magic")
        var short = Bytes(); short.raw("GGUF"); short.u32(3)
        try expect("corrupt", short, ext: "gguf", "truncated after the version")
        var f = GGUFFile(); f.version = 1
        try gg("unsupported", f, "version 1")
        f = GGUFFile(); f.version = 4
        try gg("unsupported", f, "version 4")
        f = GGUFFile(); f.tensorCount = 1 << 60
        try gg("corrupt", f, "2^60 tensors in a 24-byte file")
        f = GGUFFile(); f.kvCount = UInt64.max
        try gg("corrupt", f, "2^64-1 key/values")
        f = GGUFFile(); f.kvCount = 1
        try gg("corrupt", f, "a key/value count with nothing behind it")
    }

    func testGGUFMetadata() throws {
        var f = GGUFFile()
        f.kvs.append(("", { b in b.u32(8); b.u64(1 << 40) }))
        f.kvs[0].0 = "general.name"
        try gg("corrupt", f, "string of 2^40 bytes")
        f = GGUFFile()
        f.kv("a") { b in b.u32(9); b.u32(0); b.u64(1 << 50) }
        try gg("corrupt", f, "array of 2^50 u8 in a tiny file")
        f = GGUFFile()
        f.kv("a") { b in b.u32(9); b.u32(8); b.u64(1 << 30); b.u64(5); b.raw("hello") }
        try gg("corrupt", f, "array of 2^30 strings, one present")
        f = GGUFFile()
        f.kv("a") { b in
            b.u32(9)
            for _ in 0..<10 { b.u32(9); b.u64(1) }  // an array of one array of one array ...
            b.u32(0); b.u64(1); b.u8(0)
        }
        try gg("corrupt", f, "arrays nested ten deep")
        f = GGUFFile()
        f.kv("a") { b in b.u32(13); b.u64(0) }
        try gg("corrupt", f, "unknown value type 13")
        f = GGUFFile()
        f.kv("a") { b in b.u32(7); b.u8(2) }
        try gg("corrupt", f, "bool with value 2")
        f = GGUFFile()
        f.kv("a") { b in b.u32(4); b.u32(1) }
        f.kv("a") { b in b.u32(4); b.u32(2) }
        try gg("corrupt", f, "duplicate key")
        var long = Bytes(); long.raw("GGUF"); long.u32(3); long.u64(0); long.u64(1); long.u64(UInt64.max)
        try expect("corrupt", long, ext: "gguf", "key length 2^64-1")
        for a: UInt32 in [0, 3, 48, 1 << 30] {
            f = GGUFFile()
            f.kv("general.alignment") { b in b.u32(4); b.u32(a) }
            try gg("corrupt", f, "alignment \(a)")
        }
    }

    func testGGUFTensors() throws {
        func one(_ dims: [UInt64], type: UInt32 = 0, offset: UInt64 = 0, data: Int = 64) -> GGUFFile {
            var f = GGUFFile()
            f.tensor("w", dims: dims, type: type, offset: offset)
            f.dataBytes = data
            return f
        }
        try gg("corrupt", one([1, 1, 1, 1, 1]), "five dimensions")
        try gg("corrupt", one([]), "zero dimensions")
        try gg("corrupt", one([4, 0]), "a zero dimension")
        try gg("corrupt", one([1 << 40, 1 << 40]), "element count overflowing")
        try gg("corrupt", one([1 << 38, 1 << 2]), "2^40 elements in a 64-byte data section")
        try gg("corrupt", one([4], type: 200), "unknown type id")
        try gg("unsupported", one([32], type: 2), "Q4_0")
        try gg("corrupt", one([4], offset: 4), "offset not aligned")
        try gg("corrupt", one([4], offset: 1 << 40), "offset past the file")
        try gg("corrupt", one([16], offset: 32), "tensor running past the end")
        try gg("corrupt", one([40], type: 8, data: 64), "Q8_0 row of 40 elements")
        var f = GGUFFile()
        f.tensor("a", dims: [16], offset: 0)
        f.tensor("b", dims: [16], offset: 32)
        f.dataBytes = 96
        try gg("corrupt", f, "overlapping tensors")
        f = GGUFFile()
        f.tensor("a", dims: [4], offset: 0)
        f.tensor("a", dims: [4], offset: 32)
        f.dataBytes = 64
        try gg("corrupt", f, "duplicate tensor names")
        f = GGUFFile()
        f.tensor("a", dims: [4], offset: 0)
        f.dataBytes = 16
        try gg("model", f, "valid file, no model in it")
    }

    func testPathsAndFormats() throws {
        XCTAssertLDMError(try Model(path: dir + "/missing.gguf"), { $0.kind == "notFound" }, "missing file")
        XCTAssertLDMError(try Model(path: dir), { $0.kind == "notFound" }, "folder without config")
        try expect("corrupt", Bytes(), ext: "gguf", "empty file")
        var zip = Bytes(); zip.raw("PK\u{3}\u{4}"); zip.zeros(100)
        try expect("unsupported", zip, ext: "ckpt", "a pickle checkpoint")
        var text = Bytes(); text.raw("hello world, this is not a model")
        try expect("badMagic", text, ext: "bin", "text file")
        try "{\"_class_name\": \"Mystery\"}".write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertLDMError(try Model(path: dir), { $0.kind == "unsupported" }, "unknown component class")
        try "{\"_class_name\": \"AutoencoderKL\"".write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertLDMError(try Model(path: dir), { $0.kind == "corrupt" }, "broken config.json")
        try "{\"_class_name\": \"AutoencoderKL\"}".write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertLDMError(try Model(path: dir), { $0.kind == "notFound" }, "component without weights")
    }

    /// A real autoencoder with one tensor missing or misshapen is a model error.
    func testIncompleteModels() throws {
        let source = try references("../Fixtures/ae_vq.compvis.safetensors")
        let all = source.map { ($0.key, $0.value.shape, $0.value.array) }
        try writeSafeTensors(dir + "/missing.safetensors", all.filter { $0.0 != "decoder.up.1.block.0.conv2.weight" })
        XCTAssertLDMError(try Model(path: dir + "/missing.safetensors"), { $0.kind == "model" }, "missing tensor")
        try writeSafeTensors(dir + "/shape.safetensors", all.map { $0.0 == "encoder.mid.attn_1.k.bias" ? ($0.0, [2], [1, 2]) : $0 })
        XCTAssertLDMError(try Model(path: dir + "/shape.safetensors"), { $0.kind == "model" }, "misshapen tensor")
    }

    /// None of the cases above may allocate what the file cannot justify.
    func testNoHugeAllocations() throws {
        let before = peakResidentKB()
        try testSafeTensors()
        try testGGUFHeader()
        try testGGUFMetadata()
        try testGGUFTensors()
        XCTAssertLessThan(peakResidentKB() - before, 64 * 1024, "peak RSS grew by more than 64 MB")
    }
}

/// VmHWM from /proc/self/status, in kB.
func peakResidentKB() -> Int { procStatus("VmHWM") }

func procStatus(_ key: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
    return 0
}
