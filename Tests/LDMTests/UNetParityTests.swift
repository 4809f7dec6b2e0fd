import XCTest
@testable import LDM

/// UNets against diffusers (tools/fixtures/unets.py): batch 2 with different timesteps,
/// context, class labels. fp32 tolerance 1e-4 of the output's range.
final class UNetParityTests: XCTestCase {
    func check(_ model: String, _ refs: String, tolerance: Float = 1e-4, file: StaticString = #filePath, line: UInt = #line) throws {
        let m = try Model(path: fixture(model))
        let unet = try XCTUnwrap(m.unet, file: file, line: line)
        let ref = try references(refs)
        let labels = ref["class_labels"].map { $0.array.map { Int($0) } }
        let out = try unet(ref["x"]!, timesteps: ref["t"]!.array, context: ref["context"], classLabels: labels, ws: Workspace(threads: 2))
        XCTAssertClose(out, ref["out"]!, tolerance, model, file: file, line: line)
    }

    func testSD1CompVisCheckpoint() throws { try check("unet_sd1.compvis.safetensors", "unet_sd1.ref.safetensors") }
    func testSD2LinearProjectionHeadCounts() throws { try check("unet_sd2", "unet_sd2.ref.safetensors") }
    func testUnconditionalLegacyAttention() throws { try check("unet_uncond", "unet_uncond.ref.safetensors") }
    func testUnconditionalFusedQKV() throws { try check("unet_uncond.compvis.safetensors", "unet_uncond.ref.safetensors") }
    func testClassConditionalScaleShiftResblockUpdown() throws { try check("unet_class", "unet_class.ref.safetensors") }
    func testConcatInputChannels() throws { try check("unet_concat", "unet_concat.ref.safetensors") }

    // Q8_0 weights (vectors F32): measured 1.5e-2 on this random model (fp32 files: ~1.2e-6).
    func testSD1Q8() throws { try check("unet_sd1.q8_0.gguf", "unet_sd1.ref.safetensors", tolerance: 3e-2) }

    /// A sampling run's fixed context is projected to keys and values once and reused, bit for
    /// bit the same; another tensor, or the context once forgotten, is projected afresh.
    func testFixedContextProjectedOnce() throws {
        let model = try Model(path: fixture("unet_sd1.compvis.safetensors")), unet = try XCTUnwrap(model.unet)
        let ref = try references("unet_sd1.ref.safetensors")
        let context = try XCTUnwrap(ref["context"]), ws = Workspace(threads: 2)
        func call(_ c: Tensor) throws -> [Float] { try unet(ref["x"]!, timesteps: ref["t"]!.array, context: c, ws: ws).array }
        let plain = try call(context)
        ws.fixContext(context)
        XCTAssert(try call(context) == plain, "first call, projecting")
        let layers = ws.contextProjections.count
        XCTAssertEqual(layers, model.store.tensors.keys.filter { $0.hasSuffix("attn2.to_k.weight") }.count, "one per cross-attention layer")
        XCTAssertGreaterThan(layers, 0)
        XCTAssert(try call(context) == plain, "second call, reusing")
        XCTAssertEqual(ws.contextProjections.count, layers)
        for (k, _) in ws.contextProjections.values { k.data.update(repeating: 0, count: k.count) }
        XCTAssert(try call(context) != plain, "the reused keys are the ones kept")
        XCTAssert(try call(try context.copy()) == plain, "another tensor")
        ws.forgetFixedContext()
        XCTAssertTrue(ws.contextProjections.isEmpty)
        XCTAssert(try call(context) == plain, "forgotten")
    }

    func testInferredConfig() throws {
        let sd1 = try XCTUnwrap(try Model(path: fixture("unet_sd1.compvis.safetensors")).unet?.config)
        XCTAssertEqual(sd1.levels, 2)
        XCTAssertEqual(sd1.numResBlocks, 1)
        XCTAssertEqual(sd1.contextDim, 24)
        XCTAssertEqual(sd1.heads, [8, 8])
        let sd2 = try XCTUnwrap(try Model(path: fixture("unet_sd2")).unet?.config)
        XCTAssertEqual(sd2.heads, [2, 1])
        XCTAssertEqual(sd2.numResBlocks, 2)
        let cls = try XCTUnwrap(try Model(path: fixture("unet_class")).unet?.config)
        XCTAssertEqual(cls.numClasses, 10)
        XCTAssertFalse(cls.flipSinToCos)
        let concat = try XCTUnwrap(try Model(path: fixture("unet_concat")).unet?.config)
        XCTAssertEqual(concat.inChannels, 6)
        XCTAssertEqual(concat.outChannels, 3)
    }

    func testBadInputs() throws {
        let unet = try XCTUnwrap(try Model(path: fixture("unet_sd1.compvis.safetensors")).unet)
        let ws = Workspace(threads: 1)
        let x = try Tensor([1, 4, 8, 8], zeroed: true), ctx = try Tensor([1, 3, 24], zeroed: true)
        XCTAssertLDMError(try unet(try Tensor([1, 4, 7, 8]), timesteps: [1], context: ctx, ws: ws), { $0.kind == "shape" }, "odd side")
        XCTAssertLDMError(try unet(try Tensor([1, 3, 8, 8]), timesteps: [1], context: ctx, ws: ws), { $0.kind == "shape" }, "channels")
        XCTAssertLDMError(try unet(x, timesteps: [1], context: nil, ws: ws), { $0.kind == "shape" }, "no context")
        XCTAssertLDMError(try unet(x, timesteps: [1], context: try Tensor([1, 3, 25]), ws: ws), { $0.kind == "shape" }, "context width")
        XCTAssertLDMError(try unet(x, timesteps: [1, 2], context: ctx, ws: ws), { $0.kind == "shape" }, "timesteps")
        let cls = try XCTUnwrap(try Model(path: fixture("unet_class")).unet)
        let c16 = try Tensor([1, 3, 16], zeroed: true)
        XCTAssertLDMError(try cls(x, timesteps: [1], context: c16, classLabels: [10], ws: ws), { $0.kind == "invalidArgument" }, "label 10 of 10")
        XCTAssertLDMError(try cls(x, timesteps: [1], context: c16, ws: ws), { $0.kind == "invalidArgument" }, "no label")
    }
}
