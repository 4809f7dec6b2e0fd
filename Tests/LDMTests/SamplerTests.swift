import Glibc
import XCTest
@testable import LDM

/// Samplers against diffusers 0.42.1 (tools/fixtures/samplers.py, samplers.safetensors): every
/// scheduler run as its pipeline runs it, with a fake model, compared after every scheduler step.
/// Measured max relative error over all steps of all runs (x86-64, release): ddpm 1.1e-6,
/// ddim 1.2e-6, plms 7.5e-7, euler 1.1e-6, euler_a 1.2e-6, heun 1.4e-6, dpmpp_2m 1.6e-6,
/// dpmpp_2m_karras 1.2e-6 (float32 rounding, with libm's sin/cos against torch's).
final class SamplerTests: XCTestCase {
    /// The fake model of samplers.py: 0.5 x cos(t / 300) + 0.2 sin(3 x), in float32.
    static func fakeModel(_ x: Tensor, _ t: Float) throws -> Tensor {
        let out = try Tensor(x.shape)
        let c = cosf(t / 300)
        for j in 0..<x.count { out.data[j] = 0.5 * x.data[j] * c + 0.2 * sinf(3 * x.data[j]) }
        return out
    }

    static func schedule(_ name: String) throws -> NoiseSchedule {
        switch name {
        case "scaled_linear": return try .scaledLinear()
        case "linear": return try .linear()
        case "squaredcos_cap_v2": return try .cosine()
        default: throw LDMError.invalidArgument("unknown schedule \(name)")
        }
    }

    func testSchedulesEqualTorch() throws {
        let ref = try references("samplers.safetensors")
        for name in ["scaled_linear", "linear", "squaredcos_cap_v2"] {
            let theirs = try XCTUnwrap(ref[name + ":alphas_cumprod"]).array
            XCTAssertEqual(try Self.schedule(name).alphasCumprod, theirs, name)
        }
        XCTAssertEqual(NoiseSchedule.stableDiffusion.alphasCumprod, try NoiseSchedule.scaledLinear().alphasCumprod)
        // Stored betas and alphas_cumprod give the same schedule.
        let sd = NoiseSchedule.stableDiffusion.alphasCumprod
        let betas = sd.indices.map { i in 1 - sd[i] / (i == 0 ? 1 : sd[i - 1]) }
        let fromBetas = try NoiseSchedule(betas: betas).alphasCumprod
        for i in sd.indices { XCTAssertEqual(fromBetas[i], sd[i], accuracy: 1e-6 * sd[i], "betas [\(i)]") }
        XCTAssertEqual(try NoiseSchedule(alphasCumprod: sd).alphasCumprod, sd)
    }

    func testTrajectoriesMatchDiffusers() throws {
        let ref = try references("samplers.safetensors")
        let initLatent = try XCTUnwrap(ref["init_latent"])
        var worst = [SamplerKind: Float]()
        for key in ref.keys.sorted() where key.hasSuffix(":trajectory") {
            let name = String(key.dropLast(":trajectory".count))
            let f = name.split(separator: ",").map(String.init)
            let kind = try XCTUnwrap(SamplerKind(rawValue: f[0]))
            let params = SamplerParams(kind: kind, steps: Int(f[3])!, eta: Float(f[4])!,
                                       prediction: try XCTUnwrap(Prediction(rawValue: f[1])), schedule: try Self.schedule(f[2]))
            let strength = Float(f[5])!
            let expected = try XCTUnwrap(ref[key]), timesteps = try XCTUnwrap(ref[name + ":timesteps"]).array
            var rng = TorchRandom(seed: UInt64(f[6])!)
            var seen: [(Float, [Float])] = []
            _ = try runSampler(params, shape: [1, 4, 8, 8], rng: &rng, start: strength > 0 ? (initLatent, strength) : nil,
                               denoiser: Self.fakeModel, progress: { _, _ in true }, trace: { t, x in seen.append((t, x.array)) })
            XCTAssertEqual(seen.map(\.0), timesteps, "\(name) timesteps")
            guard seen.count == expected.shape[0] else { continue }
            for (i, (_, x)) in seen.enumerated() {
                let step = try Tensor([1, 4, 8, 8], Array(expected.array[(i * 256)..<((i + 1) * 256)]))
                let e = relativeError(try Tensor([1, 4, 8, 8], x), step)
                worst[kind] = max(worst[kind] ?? 0, e)
                XCTAssertLessThanOrEqual(e, 1e-3, "\(name) step \(i)")
            }
        }
        XCTAssertEqual(Set(worst.keys), Set(SamplerKind.allCases), "every sampler has a reference run")
        print("max relative error per sampler:", SamplerKind.allCases.map { "\($0) \(worst[$0] ?? .nan)" })
    }

    /// diffusers skips rounding Karras timesteps for the cosine schedule (the int64 cast truncates);
    /// its own loop fails on the repeated timesteps, so only those are compared.
    func testKarrasTimestepsOnCosine() throws {
        let ref = try references("samplers.safetensors")
        let theirs = try XCTUnwrap(ref["dpmpp_2m_karras,squaredcos_cap_v2,10:timesteps"]).array
        XCTAssertEqual(karrasSigmas(try .cosine(), steps: 10).timesteps, theirs)
    }

    /// Calls and progress reports per sampler, txt2img and img2img: PLMS's first step and Heun's
    /// steps but the last cost two model calls.
    func testProgressAndModelCalls() throws {
        let latent = try Tensor([1, 4, 8, 8], zeroed: true)
        for kind in SamplerKind.allCases {
            for (strength, steps) in [(Float(0), 10), (0.6, 6), (0.7, 7), (1, 10)] {
                var calls = 0, reports: [Int] = []
                var rng = TorchRandom(seed: 1)
                _ = try runSampler(SamplerParams(kind: kind, steps: 10), shape: [1, 4, 8, 8], rng: &rng,
                                   start: strength > 0 ? (latent, strength) : nil,
                                   denoiser: { x, t in calls += 1; return try Self.fakeModel(x, t) },
                                   progress: { step, total in
                                       XCTAssertEqual(total, steps, "\(kind) strength \(strength)")
                                       reports.append(step)
                                       return true
                                   })
                XCTAssertEqual(reports, Array(1...steps), "\(kind) strength \(strength)")
                let extra = kind == .plms ? 1 : kind == .heun ? steps - 1 : 0
                XCTAssertEqual(calls, steps + extra, "\(kind) strength \(strength) model calls")
            }
        }
    }

    /// int(steps * strength) as Python computes it on the decimal the caller meant.
    func testStrengthRoundsAsPython() throws {
        for (steps, strength, run) in [(10, Float(0.7), 7), (100, 0.29, 28), (20, 0.75, 15)] {
            var total = 0
            var rng = TorchRandom(seed: 0)
            _ = try runSampler(SamplerParams(kind: .ddim, steps: steps), shape: [1, 1, 4, 4], rng: &rng,
                               start: (try Tensor([1, 1, 4, 4], zeroed: true), strength),
                               denoiser: Self.fakeModel, progress: { _, n in total = n; return true })
            XCTAssertEqual(total, run, "\(steps) steps at strength \(strength)")
        }
    }

    func testOneStepAndLongRuns() throws {
        for kind in SamplerKind.allCases {
            for steps in [1, 2, kind == .dpmpp_2m ? 998 : 999] {
                var rng = TorchRandom(seed: 3)
                let x = try runSampler(SamplerParams(kind: kind, steps: steps), shape: [1, 4, 4, 4], rng: &rng, start: nil,
                                       denoiser: Self.fakeModel, progress: { _, _ in true })
                XCTAssertTrue(x.array.allSatisfy(\.isFinite), "\(kind) \(steps) steps")
            }
        }
    }

    func testCancellation() throws {
        for kind in SamplerKind.allCases {
            var calls = 0
            var rng = TorchRandom(seed: 0)
            XCTAssertLDMError(try runSampler(SamplerParams(kind: kind, steps: 10), shape: [1, 4, 8, 8], rng: &rng, start: nil,
                                             denoiser: { x, t in calls += 1; return try Self.fakeModel(x, t) },
                                             progress: { step, _ in step < 3 }), { $0 == .cancelled }, "\(kind)")
            XCTAssertEqual(calls, kind == .plms ? 4 : kind == .heun ? 6 : 3, "\(kind) stops after step 3")
        }
    }

    func testInvalidParameters() throws {
        let shape = [1, 4, 8, 8]
        let latent = try Tensor(shape, zeroed: true)
        func run(_ p: SamplerParams, shape: [Int] = shape, start: (latent: Tensor, strength: Float)? = nil,
                 denoiser: Denoiser = SamplerTests.fakeModel) throws -> Tensor {
            var rng = TorchRandom(seed: 0)
            return try runSampler(p, shape: shape, rng: &rng, start: start, denoiser: denoiser, progress: { _, _ in true })
        }
        func invalid(_ e: LDMError) -> Bool { if case .invalidArgument = e { return true } else { return false } }
        func shapeError(_ e: LDMError) -> Bool { if case .shape = e { return true } else { return false } }
        for steps in [0, -1, 1000, 5000] {
            XCTAssertLDMError(try run(SamplerParams(steps: steps)), invalid, "steps \(steps)")
        }
        XCTAssertLDMError(try run(SamplerParams(kind: .dpmpp_2m, steps: 999)), invalid, "dpmpp_2m at T-1 steps")
        for eta in [-0.1, 1.5, .nan, .infinity] as [Float] {
            XCTAssertLDMError(try run(SamplerParams(kind: .ddim, eta: eta)), invalid, "eta \(eta)")
        }
        for strength in [0, -0.5, 1.5, .nan, 0.01] as [Float] {
            XCTAssertLDMError(try run(SamplerParams(), start: (latent, strength)), invalid, "strength \(strength)")
        }
        XCTAssertLDMError(try run(SamplerParams(), start: (try Tensor([1, 4, 8, 9]), 0.5)), shapeError, "init shape")
        XCTAssertLDMError(try run(SamplerParams(), shape: [1, 4, 0, 8]), invalid, "empty latent")
        XCTAssertLDMError(try run(SamplerParams(), shape: []), invalid, "no shape")
        XCTAssertLDMError(try run(SamplerParams(), denoiser: { _, _ in try Tensor([3]) }), shapeError, "model output")
        for kind in [SamplerKind.plms, .euler_a] {
            XCTAssertLDMError(try run(SamplerParams(kind: kind, prediction: .sample)),
                              { if case .unsupported = $0 { return true } else { return false } }, "\(kind) x0")
        }
        // Schedules.
        XCTAssertLDMError(try NoiseSchedule(betas: []), invalid, "no betas")
        XCTAssertLDMError(try NoiseSchedule(betas: [0.1, 1]), invalid, "beta 1")
        XCTAssertLDMError(try NoiseSchedule(betas: [0.1, .nan]), invalid, "beta NaN")
        XCTAssertLDMError(try NoiseSchedule(alphasCumprod: [0.9, 0.9]), invalid, "flat alphas_cumprod")
        XCTAssertLDMError(try NoiseSchedule(alphasCumprod: [1, 0.5]), invalid, "alpha_bar 1")
        XCTAssertLDMError(try NoiseSchedule.scaledLinear(betaStart: -1), invalid, "negative beta")
        XCTAssertLDMError(try NoiseSchedule.linear(timesteps: 0), invalid, "no timesteps")
        XCTAssertLDMError(try NoiseSchedule.cosine(timesteps: -3), invalid, "negative timesteps")
        // A short schedule bounds the steps.
        XCTAssertLDMError(try run(SamplerParams(steps: 10, schedule: try .scaledLinear(timesteps: 10))), invalid, "steps == T")
        XCTAssertNoThrow(try run(SamplerParams(steps: 9, schedule: try .scaledLinear(timesteps: 10))))
    }
}
