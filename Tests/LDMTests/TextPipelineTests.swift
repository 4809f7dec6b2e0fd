import XCTest
@testable import LDM

/// Text-to-image and image-to-image against diffusers' StableDiffusionPipeline,
/// StableDiffusionImg2ImgPipeline and LDMTextToImagePipeline (tools/fixtures/pipelines.py):
/// same prompts and seeds, images within 2/255 per pixel; converted GGUF files by PSNR.
final class TextPipelineTests: XCTestCase {
    struct Run {
        var prompt: String
        var negative: String?
        var sampler: SamplerKind
        var seed: UInt64
        var steps = 8
        var guidance: Float = 7.5
        var initImage: String?
        var strength: Float = 0.8
    }

    static let sdRuns = [
        "ddim": Run(prompt: "a red circle on a blue background", sampler: .ddim, seed: 11),
        "euler_a": Run(prompt: "two small green squares, highly detailed!", negative: "blurry, dark", sampler: .euler_a, seed: 12),
        "img2img": Run(prompt: "a big white triangle", sampler: .ddim, seed: 13, steps: 10, guidance: 5, initImage: "input64.png", strength: 0.6),
    ]
    static let ldmRuns = [
        "ddim": Run(prompt: "a small yellow triangle left of a big red circle", sampler: .ddim, seed: 21, guidance: 4),
        "plms": Run(prompt: "a big blue square on a white background", sampler: .plms, seed: 22, guidance: 4),
    ]

    func generate(_ ctx: Context, _ r: Run) throws -> Image {
        var o = SampleOptions()
        o.sampler = r.sampler
        o.steps = r.steps
        o.guidance = r.guidance
        o.seed = r.seed
        o.latentSize = [8, 8]
        if let path = r.initImage {
            o.initImage = try PNG.read(fixture(path))
            o.strength = r.strength
        }
        let uncond = try r.negative.map { try ctx.textConditioning($0) } ?? ctx.unconditional()
        return try ctx.decodeImage(try ctx.sample(o, cond: try ctx.textConditioning(r.prompt), uncond: uncond))
    }

    func maxDifference(_ img: Image, _ ref: Tensor) -> Float {
        var worst: Float = 0
        for i in 0..<ref.count { worst = max(worst, abs(Float(img.pixels[i]) - ref.data[i])) }
        return worst
    }

    func psnr(_ img: Image, _ ref: Tensor) -> Double {
        var se = 0.0
        for i in 0..<ref.count { let d = Double(img.pixels[i]) - Double(ref.data[i]); se += d * d }
        return 10 * log10(255 * 255 / max(se / Double(ref.count), 1e-12))
    }

    func testStableDiffusionMatchesDiffusers() throws {
        let ctx = Context(model: try Model(path: fixture("sd_tiny")), threads: 2)
        let ref = try references("sd_tiny.ref.safetensors")
        for (name, run) in Self.sdRuns {
            let d = maxDifference(try generate(ctx, run), ref["image_\(name)"]!)
            XCTAssertLessThanOrEqual(d, 2, "\(name): max pixel difference \(d)")
        }
    }

    func testLDMTextToImageMatchesDiffusers() throws {
        let ctx = Context(model: try Model(path: fixture("ldm_txt2img")), threads: 2)
        let ref = try references("ldm_txt2img.ref.safetensors")
        for (name, run) in Self.ldmRuns {
            let d = maxDifference(try generate(ctx, run), ref["image_\(name)"]!)
            XCTAssertLessThanOrEqual(d, 2, "\(name): max pixel difference \(d)")
        }
    }

    /// The pipeline converted by ldm-convert: F16 (lossless for these fp16-exact weights, so
    /// >= 40 dB holds with room) and Q8_0 (>= 30 dB).
    func testConvertedPipelines() throws {
        let ref = try references("sd_tiny.ref.safetensors")
        for (file, floor) in [("sd_tiny.f16.gguf", 40.0), ("sd_tiny.q8_0.gguf", 30.0)] {
            let ctx = Context(model: try Model(path: fixture(file)), threads: 2)
            XCTAssertNotNil(ctx.model.tokenizer, "\(file) embeds its tokenizer")
            for (name, run) in Self.sdRuns {
                let p = psnr(try generate(ctx, run), ref["image_\(name)"]!)
                XCTAssertGreaterThanOrEqual(p, floor, "\(file) \(name): PSNR \(p) dB")
            }
        }
    }

    /// Real checkpoint layouts: SD1 as one CompVis-named file with its vocabulary files beside
    /// it (sd_tiny's weights, so sd_tiny's references), and SD2 (OpenCLIP penultimate layer,
    /// linear projections, heads of 16 channels, v-prediction from its yaml) converted to GGUF.
    func testSingleFileCheckpoints() throws {
        let sd1 = Context(model: try Model(path: fixture("sd1_single/model.safetensors")), threads: 2)
        XCTAssertEqual(sd1.model.autoencoder?.config.scaleFactor, 0.18215)
        let ref = try references("sd_tiny.ref.safetensors")
        for (name, run) in Self.sdRuns {
            let d = maxDifference(try generate(sd1, run), ref["image_\(name)"]!)
            XCTAssertLessThanOrEqual(d, 2, "sd1 single file \(name): max pixel difference \(d)")
        }
        let sd2 = Context(model: try Model(path: fixture("sd2_tiny.f16.gguf")), threads: 2)
        XCTAssertEqual(sd2.model.prediction, .v)
        XCTAssertEqual(sd2.model.tokenizer?.padToken, 0)
        XCTAssertEqual(sd2.model.textEncoder?.kind, .openCLIP)
        let run = Run(prompt: "a small white circle", sampler: .ddim, seed: 41, guidance: 6)
        let d = maxDifference(try generate(sd2, run), try references("sd2_tiny.ref.safetensors")["image_ddim"]!)
        XCTAssertLessThanOrEqual(d, 2, "sd2: max pixel difference \(d)")
    }

    func testPromptWindows() throws {
        let ctx = Context(model: try Model(path: fixture("sd_tiny")), threads: 1)
        let tok = try XCTUnwrap(ctx.model.tokenizer)
        let short = try ctx.tokenWindows("a red circle")
        XCTAssertEqual(short.count, 1)
        XCTAssertEqual(short[0].count, 77)
        XCTAssertEqual(short[0].first, tok.startToken)
        let ids = tok.encode("a red circle")  // start, text, end
        XCTAssertEqual(Array(short[0].prefix(ids.count)), ids)
        XCTAssertTrue(short[0].dropFirst(ids.count).allSatisfy { $0 == tok.padToken })
        // Long prompts are encoded in 75-token windows, not cut.
        let long = String(repeating: "a red circle left of a blue square, ", count: 12)
        let text = tok.encode(long).count - 2
        let windows = try ctx.tokenWindows(long)
        XCTAssertEqual(windows.count, (text + 74) / 75)
        XCTAssertTrue(windows.allSatisfy { $0.count == 77 && $0.first == tok.startToken })
        XCTAssertEqual(try ctx.encodeText(long).shape, [77 * windows.count, 64])
        // A long prompt against a short negative: both sides padded to the same windows.
        var o = SampleOptions()
        o.steps = 2
        o.guidance = 3
        XCTAssertNoThrow(try ctx.sample(o, cond: try ctx.textConditioning(long), uncond: try ctx.textConditioning("blurry")))
    }
}

/// A class-conditional LDM (cin256 style, CompVis single file with schedule buffers) against
/// diffusers' components driven the CompVis way (tools/fixtures/pipelines.py).
final class ClassConditionalTests: XCTestCase {
    func testClassEmbedderModelMatchesReference() throws {
        let model = try Model(path: fixture("cin_tiny.safetensors"))
        XCTAssertEqual(model.classEmbedder?.classes, 5)
        let ctx = Context(model: model, threads: 2)
        var o = SampleOptions()
        o.steps = 8
        o.guidance = 3
        o.seed = 31
        o.latentSize = [8, 8]
        let img = try ctx.decodeImage(try ctx.sample(o, cond: Conditioning(classLabel: 2), uncond: try ctx.unconditional()))
        let ref = try references("cin_tiny.ref.safetensors")["image_class2"]!
        var worst: Float = 0
        for i in 0..<ref.count { worst = max(worst, abs(Float(img.pixels[i]) - ref.data[i])) }
        XCTAssertLessThanOrEqual(worst, 2, "max pixel difference \(worst)")
        XCTAssertLDMError(try ctx.sample(o, cond: Conditioning(classLabel: 5), uncond: nil), { $0.kind == "invalidArgument" }, "label 5 of 5")
    }
}
