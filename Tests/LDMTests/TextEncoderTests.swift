import XCTest
@testable import LDM

/// Text encoders against transformers / diffusers (tools/fixtures/text_encoders.py): every
/// naming family on a random 77-token window, a prompt-shaped padded one, a short prompt and a
/// single token. fp32 tolerance 1e-4 relative (measured errors beside each test).
final class TextEncoderTests: XCTestCase {
    /// A store of `file`'s tensors under `prefix` + their names, as the loader would fill it.
    func encoder(_ file: String, prefix: String = "", metadata: [String: MetaValue] = [:]) throws -> TextEncoder {
        let store = TensorStore()
        for t in try SafeTensors.read(try MappedFile(fixture(file))).tensors { try store.add(t, as: prefix + t.name) }
        return try TextEncoder(WeightScope(store: store, prefix: "cond_stage_model."), metadata: metadata)
    }

    /// What the loader reads from a transformers config.json into metadata.
    func configMetadata(_ folder: String) throws -> [String: MetaValue] {
        let file = try MappedFile(fixture(folder + "/config.json"))
        let config = try JSON.parse(UnsafeRawBufferPointer(start: file.base, count: file.size), what: folder)
        var m = [String: MetaValue]()
        m[TextEncoder.headsKey] = config["num_attention_heads"] ?? config["encoder_attention_heads"]
        m[TextEncoder.headDimKey] = config["head_dim"]
        m[TextEncoder.activationKey] = config["hidden_act"] ?? config["activation_function"]
        m[TextEncoder.epsKey] = config["layer_norm_eps"]
        return m
    }

    func ids(_ ref: [String: Tensor], _ i: Int) -> [Int] { ref["ids\(i)"]!.array.map { Int($0) } }

    func check(_ enc: TextEncoder, _ refs: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let ref = try references(refs)
        let ws = Workspace(threads: 2)
        for i in 0..<4 {
            let out = try enc(ids(ref, i), ws: ws)
            XCTAssertEqual(out.shape, [ids(ref, i).count, enc.width], file: file, line: line)
            XCTAssertClose(out, ref["out\(i)"]!, 1e-4, "\(refs) ids\(i)", file: file, line: line)
        }
    }

    // Measured 6.2e-7.
    func testCLIPSingleFile() throws {
        let enc = try encoder("text_clip.compvis.safetensors", metadata: [TextEncoder.headsKey: .int(4)])
        XCTAssertEqual(enc.kind, .clip)
        XCTAssertEqual(enc.width, 32)
        XCTAssertEqual(enc.maxLength, 77)
        XCTAssertEqual(enc.layers.count, 3)
        try check(enc, "text_clip.ref.safetensors")
    }

    // transformers 5 names (no text_model.), heads and quick_gelu from config.json. Measured 6.2e-7.
    func testCLIPTransformersFolder() throws {
        let enc = try encoder("text_clip/model.safetensors", prefix: "cond_stage_model.transformer.",
                              metadata: try configMetadata("text_clip"))
        XCTAssertEqual(enc.kind, .clip)
        try check(enc, "text_clip.ref.safetensors")
    }

    // The penultimate layer through the final norm, as popular UIs' "CLIP skip 2". Measured 5.6e-7.
    func testCLIPSkip() throws {
        let enc = try encoder("text_clip.compvis.safetensors", metadata: [TextEncoder.headsKey: .int(4)])
        let ref = try references("text_clip.ref.safetensors")
        for i in 0..<4 {
            XCTAssertClose(try enc(ids(ref, i), clipSkip: 1, ws: Workspace(threads: 2)), ref["skip1\(i)"]!, 1e-4, "skip ids\(i)")
        }
    }

    // OpenCLIP names, stacked in_proj, gelu; the last of 3 resblocks is skipped (SD2). Measured 4.9e-7.
    func testOpenCLIPPenultimate() throws {
        let enc = try encoder("text_openclip.compvis.safetensors", metadata: [TextEncoder.headsKey: .int(4)])
        XCTAssertEqual(enc.kind, .openCLIP)
        XCTAssertEqual(enc.layers.count, 2)
        try check(enc, "text_openclip.ref.safetensors")
    }

    // diffusers LDMBertModel folder: 8 heads of 8 (inner 64) in a 32-wide model. Measured 4.4e-7.
    func testLDMBertFolder() throws {
        let enc = try encoder("text_ldmbert/model.safetensors", prefix: "cond_stage_model.bert.",
                              metadata: try configMetadata("text_ldmbert"))
        XCTAssertEqual(enc.kind, .ldmBert)
        try check(enc, "text_ldmbert.ref.safetensors")
    }

    // The same weights under CompVis BERTEmbedder (x-transformers) names, no metadata: the
    // defaults (8 heads, gelu) must be the reference's. Measured 4.4e-7.
    func testBERTEmbedderCheckpoint() throws {
        let enc = try encoder("text_ldmbert.compvis.safetensors")
        XCTAssertEqual(enc.kind, .bertEmbedder)
        XCTAssertEqual(enc.layers.count, 2)
        try check(enc, "text_ldmbert.ref.safetensors")
    }

    func testBadIds() throws {
        let enc = try encoder("text_ldmbert.compvis.safetensors")
        let ws = Workspace(threads: 1)
        let invalid: (LDMError) -> Bool = { $0.kind == "invalidArgument" }
        XCTAssertLDMError(try enc([], ws: ws), invalid, "no ids")
        XCTAssertLDMError(try enc([Int](repeating: 1, count: 78), ws: ws), invalid, "78 ids")
        XCTAssertLDMError(try enc([1, -1], ws: ws), invalid, "negative id")
        XCTAssertLDMError(try enc([1, enc.vocabularySize], ws: ws), invalid, "id past the vocabulary")
        XCTAssertLDMError(try enc([1], clipSkip: 2, ws: ws), invalid, "skipping every layer")
        XCTAssertLDMError(try enc([1], clipSkip: -1, ws: ws), invalid, "negative skip")
        XCTAssertEqual(try enc([Int](repeating: 1, count: 77), ws: ws).shape, [77, 32])
    }

    func testMetadataAndNameErrors() throws {
        let clip = "text_clip.compvis.safetensors"
        XCTAssertLDMError(try encoder(clip), { $0.kind == "model" }, "32-wide CLIP without a head count")
        XCTAssertLDMError(try encoder(clip, metadata: [TextEncoder.headsKey: .int(5)]), { $0.kind == "model" }, "5 heads of 32")
        XCTAssertLDMError(try encoder(clip, metadata: [TextEncoder.headsKey: .int(4), TextEncoder.activationKey: .string("relu")]),
                          { $0.kind == "unsupported" }, "unknown activation")
        XCTAssertLDMError(try encoder("text_ldmbert.compvis.safetensors", metadata: [TextEncoder.headDimKey: .int(64)]),
                          { $0.kind == "model" }, "head_dim against the weights")
        XCTAssertLDMError(try encoder("text_clip/model.safetensors", prefix: "cond_stage_model.other."),
                          { $0.kind == "unsupported" }, "unknown names")
    }

    /// Thread counts split rows and GEMM tiles differently, never the sums: results are bitwise equal.
    func testThreadCountDoesNotChangeResults() throws {
        let ids = try references("text_clip.ref.safetensors")["ids0"]!.array.map { Int($0) }
        for enc in [try encoder("text_clip.compvis.safetensors", metadata: [TextEncoder.headsKey: .int(4)]),
                    try encoder("text_openclip.compvis.safetensors", metadata: [TextEncoder.headsKey: .int(4)]),
                    try encoder("text_ldmbert.compvis.safetensors")] {
            XCTAssertEqual(try enc(ids, ws: Workspace(threads: 1)).array, try enc(ids, ws: Workspace(threads: 2)).array, "\(enc.kind)")
        }
    }
}
