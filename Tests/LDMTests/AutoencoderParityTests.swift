import XCTest
@testable import LDM

/// Autoencoders against diffusers on the same weights and inputs (tools/make_fixtures.py).
/// fp32 weights, and F16 weights that are exactly the fp16-rounded values the reference ran
/// with, must match to 1e-4 of the output's range. Quantized files get stated tolerances.
final class AutoencoderParityTests: XCTestCase {
    struct Case {
        let model: String
        let refs: String
        let seed: UInt64
        let tolerance: Float
    }

    func check(_ c: Case) throws {
        let model = try Model(path: fixture(c.model))
        let ctx = Context(model: model, threads: 2)
        let ref = try references(c.refs)
        let img = try image(from: ref["image"]!)

        let mean = try ctx.encode(img)
        XCTAssertClose(mean, ref["latent_mean"]!, c.tolerance, "\(c.model) encode")
        if let sample = ref["latent_sample"] {
            XCTAssertClose(try ctx.encode(img, sample: true, seed: c.seed), sample, c.tolerance, "\(c.model) encode sample")
        }
        XCTAssertClose(try ctx.decode(ref["latent_random"]!), ref["decoded_random"]!, c.tolerance, "\(c.model) decode")
        XCTAssertClose(try ctx.decode(ref["latent_mean"]!), ref["decoded"]!, c.tolerance, "\(c.model) decode(encode)")
    }

    func testKLWithAttentionDiffusersFolder() throws {
        try check(Case(model: "ae_kl_attn", refs: "ae_kl_attn.ref.safetensors", seed: 42, tolerance: 1e-4))
    }

    func testKLF8SingleFileCheckpoint() throws {
        try check(Case(model: "ae_kl_f8.safetensors", refs: "ae_kl_f8.ref.safetensors", seed: 7, tolerance: 1e-4))
    }

    func testKLF8GGUFF16() throws {
        try check(Case(model: "ae_kl_f8.f16.gguf", refs: "ae_kl_f8.ref.safetensors", seed: 7, tolerance: 1e-4))
    }

    func testVQDiffusersFolder() throws {
        try check(Case(model: "ae_vq", refs: "ae_vq.ref.safetensors", seed: 3, tolerance: 1e-4))
    }

    func testVQCompVisNames() throws {
        try check(Case(model: "ae_vq.compvis.safetensors", refs: "ae_vq.ref.safetensors", seed: 3, tolerance: 1e-4))
    }

    // Quantized weights: measured 1.5e-2 (encode) to 3.9e-2 (decode) for Q8_0 and 0.5e-2 to
    // 1.1e-2 for BF16 on these random models, whose perturbed norms amplify weight error.
    func testKLF8GGUFQ8() throws {
        try check(Case(model: "ae_kl_f8.q8_0.gguf", refs: "ae_kl_f8.ref.safetensors", seed: 7, tolerance: 6e-2))
    }

    func testVQGGUFQ8() throws {
        try check(Case(model: "ae_vq.q8_0.gguf", refs: "ae_vq.ref.safetensors", seed: 3, tolerance: 3e-2))
    }

    func testVQGGUFBF16() throws {
        try check(Case(model: "ae_vq.bf16.gguf", refs: "ae_vq.ref.safetensors", seed: 3, tolerance: 2e-2))
    }

    func testInferredConfigs() throws {
        let attn = try XCTUnwrap(try Model(path: fixture("ae_kl_attn")).autoencoder?.config)
        XCTAssertEqual(attn.kind, .kl)
        XCTAssertEqual(attn.channelMult, [1, 2])
        XCTAssertEqual(attn.encoderAttnLevels, [1])
        XCTAssertEqual(attn.decoderAttnLevels, [1])
        XCTAssertEqual(attn.groups, 8)
        XCTAssertEqual(attn.scaleFactor, 0.5)
        XCTAssertFalse(attn.hasQuantConv)
        XCTAssertTrue(attn.hasPostQuantConv)
        let f8 = try XCTUnwrap(try Model(path: fixture("ae_kl_f8.safetensors")).autoencoder?.config)
        XCTAssertEqual(f8.downsampleFactor, 8)
        XCTAssertEqual(f8.numResBlocks, 2)
        XCTAssertEqual(f8.scaleFactor, 0.18215)
        let vq = try XCTUnwrap(try Model(path: fixture("ae_vq")).autoencoder?.config)
        XCTAssertEqual(vq.kind, .vq)
        XCTAssertEqual(vq.codebookSize, 64)
        XCTAssertEqual(vq.scaleFactor, 1)
        XCTAssertEqual(try Model(path: fixture("ae_kl_f8.q8_0.gguf")).store.dominantType, .q8_0)
    }
}
