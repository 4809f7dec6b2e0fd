import XCTest
@testable import LDM

/// Whole pipelines against diffusers, and the sampling API's contract.
final class SamplePipelineTests: XCTestCase {
    /// diffusers' LDMPipeline (VQ autoencoder + UNet2DModel; DDIM and PLMS) for the same seed:
    /// the images may differ by at most 2/255 per pixel.
    func testUnconditionalLDMMatchesDiffusers() throws {
        let ctx = Context(model: try Model(path: fixture("ldm_uncond")), threads: 2)
        let ref = try references("ldm_uncond.ref.safetensors")
        for (name, seed, sampler) in [("ddim", UInt64(4), SamplerKind.ddim), ("plms", 6, .plms)] {
            var o = SampleOptions()
            o.steps = 10
            o.seed = seed
            o.sampler = sampler
            let img = try ctx.decodeImage(try ctx.sample(o, cond: nil, uncond: nil))
            let want = ref["image_\(name)"]!
            var worst: Float = 0
            for i in 0..<want.count { worst = max(worst, abs(Float(img.pixels[i]) - want.data[i])) }
            XCTAssertLessThanOrEqual(worst, 2, "\(name): max pixel difference \(worst)")
        }
    }

    /// The pipeline converted to GGUF (F16, lossless here) carries the scheduler config: a
    /// different schedule would change the sample.
    func testConvertedPipelineSamplesIdentically() throws {
        var o = SampleOptions()
        o.steps = 5
        o.seed = 3
        let folder = try Context(model: try Model(path: fixture("ldm_uncond")), threads: 2).sample(o, cond: nil, uncond: nil)
        let gguf = Context(model: try Model(path: fixture("ldm_uncond.f16.gguf")), threads: 2)
        XCTAssertEqual(gguf.model.store.metadata["ldm.schedule.beta_start"]?.double, 0.0015)
        XCTAssertEqual(try gguf.sample(o, cond: nil, uncond: nil).array, folder.array)
    }

    func unetOnly() throws -> (Context, Conditioning, Conditioning) {
        let ctx = Context(model: try Model(path: fixture("unet_sd1.compvis.safetensors")), threads: 2)
        var rng = TorchRandom(seed: 9)
        return (ctx, Conditioning(context: try rng.normal([5, 24])), Conditioning(context: try rng.normal([5, 24])))
    }

    func testGuidanceAndDeterminism() throws {
        let (ctx, cond, uncond) = try unetOnly()
        var o = SampleOptions()
        o.steps = 4
        o.latentSize = [8, 8]
        o.guidance = 5
        let a = try ctx.sample(o, cond: cond, uncond: uncond), b = try ctx.sample(o, cond: cond, uncond: uncond)
        XCTAssertEqual(a.shape, [4, 8, 8])
        XCTAssertEqual(a.array, b.array)
        o.seed = 1
        XCTAssertNotEqual(try ctx.sample(o, cond: cond, uncond: uncond).array, a.array)
        // Guidance 1 ignores uncond; guidance 0 is the unconditional prediction alone.
        o.guidance = 1
        XCTAssertEqual(try ctx.sample(o, cond: cond, uncond: uncond).array, try ctx.sample(o, cond: cond, uncond: nil).array)
        o.guidance = 0
        var u = o
        u.guidance = 1
        let zero = try ctx.sample(o, cond: cond, uncond: uncond), plain = try ctx.sample(u, cond: uncond, uncond: nil)
        XCTAssertClose(zero, plain, 1e-5, "guidance 0 = unconditional")
    }

    /// A whole guided, ancestral run is bitwise the same on 1 and 2 threads.
    func testThreadCountDoesNotChangeSamples() throws {
        let (one, cond, uncond) = try unetOnly()
        let two = Context(model: one.model, threads: 2), single = Context(model: one.model, threads: 1)
        var o = SampleOptions()
        o.sampler = .euler_a
        o.steps = 3
        o.latentSize = [16, 16]
        o.guidance = 3
        let a = try single.sample(o, cond: cond, uncond: uncond), b = try two.sample(o, cond: cond, uncond: uncond)
        XCTAssertTrue(a.array.elementsEqual(b.array) { $0.bitPattern == $1.bitPattern })
    }

    func testConditioningErrors() throws {
        let (ctx, cond, _) = try unetOnly()
        var o = SampleOptions()
        o.steps = 2
        o.latentSize = [8, 8]
        o.guidance = 3
        XCTAssertLDMError(try ctx.sample(o, cond: cond, uncond: nil), { $0.kind == "invalidArgument" }, "guidance without uncond")
        o.guidance = 1
        XCTAssertLDMError(try ctx.sample(o, cond: nil, uncond: nil), { $0.kind == "invalidArgument" }, "no context")
        XCTAssertLDMError(try ctx.sample(o, cond: Conditioning(context: try Tensor([3, 23])), uncond: nil), { $0.kind == "shape" }, "context width")
        XCTAssertLDMError(try ctx.sample(o, cond: Conditioning(context: cond.context, classLabel: 1), uncond: nil), { $0.kind == "invalidArgument" }, "class label")
        o.latentSize = [7, 8]
        XCTAssertLDMError(try ctx.sample(o, cond: cond, uncond: nil), { $0.kind == "invalidArgument" }, "odd latent")
        o.latentSize = nil
        XCTAssertLDMError(try ctx.sample(o, cond: cond, uncond: nil), { $0.kind == "invalidArgument" }, "no size known")
        XCTAssertLDMError(try ctx.latentSize(width: 64, height: 64), { $0.kind == "invalidArgument" }, "pixels without autoencoder")
    }

    func testProgressAndCancel() throws {
        let (ctx, cond, _) = try unetOnly()
        var o = SampleOptions()
        o.steps = 5
        o.latentSize = [8, 8]
        var seen = [(Int, Int)]()
        _ = try ctx.sample(o, cond: cond, uncond: nil) { seen.append(($0, $1)); return true }
        XCTAssertEqual(seen.map(\.0), [1, 2, 3, 4, 5])
        XCTAssertTrue(seen.allSatisfy { $0.1 == 5 })
        var calls = 0
        XCTAssertLDMError(try ctx.sample(o, cond: cond, uncond: nil) { _, _ in calls += 1; return calls < 2 }, { $0.kind == "cancelled" }, "cancel at step 2")
        XCTAssertEqual(calls, 2)
        // a cancelled context works again on its next call
        XCTAssertNoThrow(try ctx.sample(o, cond: cond, uncond: nil))
    }
}
