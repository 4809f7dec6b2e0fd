/// What the model predicts.
public enum Prediction: String, Sendable {
    case epsilon, sample, v = "v_prediction"
}

/// The samplers, each equal to a diffusers 0.42 scheduler in the Stable Diffusion configuration
/// (timestep_spacing "leading", steps_offset 1, set_alpha_to_one false, clip_sample false).
public enum SamplerKind: String, CaseIterable, Sendable {
    /// DDPMScheduler, variance "fixed_small": ancestral, draws noise every step.
    case ddpm
    /// DDIMScheduler; eta > 0 draws noise every step.
    case ddim
    /// PNDMScheduler with skip_prk_steps: the paper's PLMS; its first step costs two model calls.
    case plms
    /// EulerDiscreteScheduler.
    case euler
    /// EulerAncestralDiscreteScheduler: draws noise every step.
    case euler_a
    /// HeunDiscreteScheduler: two model calls per step but the last.
    case heun
    /// DPMSolverMultistepScheduler, "dpmsolver++", solver order 2.
    case dpmpp_2m
    /// The same with use_karras_sigmas.
    case dpmpp_2m_karras
}

/// The model as a sampler sees it: the (already scale_model_input-scaled) latent [N, C, h, w]
/// and the timestep value diffusers would pass to the UNet -> the model output (eps, x0 or v per
/// `prediction`). The input is only valid during the call.
public typealias Denoiser = (_ x: Tensor, _ t: Float) throws -> Tensor

public struct SamplerParams: Sendable {
    public var kind: SamplerKind
    public var steps: Int
    /// DDIM's eta in 0...1 (0: deterministic); the other samplers ignore it.
    public var eta: Float
    public var prediction: Prediction
    public var schedule: NoiseSchedule

    public init(kind: SamplerKind = .euler, steps: Int = 20, eta: Float = 0, prediction: Prediction = .epsilon,
                schedule: NoiseSchedule = .stableDiffusion) {
        self.kind = kind
        self.steps = steps
        self.eta = eta
        self.prediction = prediction
        self.schedule = schedule
    }
}

/// Runs the whole denoising loop. `shape` is the latent shape [N, C, h, w]. Draws the initial
/// noise from `rng` (as diffusers' prepare_latents does) unless `start` is given (img2img: the
/// clean init latent plus `strength` in (0, 1]).
/// `progress(step, total)` is called after every step (total = number of steps actually run);
/// returning false stops with LDMError.cancelled.
public func runSampler(_ p: SamplerParams, shape: [Int], rng: inout TorchRandom, start: (latent: Tensor, strength: Float)?,
                       denoiser: Denoiser, progress: (Int, Int) -> Bool) throws -> Tensor {
    try runSampler(p, shape: shape, rng: &rng, start: start, denoiser: denoiser, progress: progress, trace: nil)
}

/// The loop of StableDiffusionPipeline / StableDiffusionImg2ImgPipeline around a scheduler.
/// `trace(t, x)` sees the latent after every scheduler step (tests compare it with diffusers).
func runSampler(_ p: SamplerParams, shape: [Int], rng: inout TorchRandom, start: (latent: Tensor, strength: Float)?,
                denoiser: Denoiser, progress: (Int, Int) -> Bool, trace: ((Float, Tensor) -> Void)?) throws -> Tensor {
    try validate(p, shape: shape, start: start)
    let scheduler = try makeScheduler(p, count: try Shape.count(shape))
    let x: Tensor
    var begin = 0, total = p.steps
    if let start {
        // get_timesteps: the last int(steps * strength) steps run, from timesteps[t_start * order].
        let tStart = p.steps - min(Int(Double(p.steps) * pythonFloat(start.strength)), p.steps)
        guard tStart < p.steps else {
            throw LDMError.invalidArgument("strength \(start.strength) leaves no step to run at \(p.steps) steps")
        }
        begin = tStart * scheduler.order
        total = p.steps - tStart
        x = try start.latent.copy()
        let noise = try rng.normal(shape)
        scheduler.addNoise(x, noise, at: begin)
    } else {
        x = try rng.normal(shape)
        let sigma = scheduler.initNoiseSigma
        for j in 0..<x.count { x.data[j] *= sigma }
    }

    let input = try Tensor(shape)
    let loops = scheduler.timesteps.count - begin
    let warmup = loops - total * scheduler.order
    var done = 0
    for i in begin..<scheduler.timesteps.count {
        let t = scheduler.timesteps[i]
        scheduler.scaleInput(x, into: input, at: i)
        let output = try denoiser(input, t)
        guard output.count == x.count else {
            throw LDMError.shape("the denoiser returned \(output.shape) for a latent of shape \(shape)")
        }
        try scheduler.step(output, at: i, x, &rng)
        trace?(t, x)
        // A step is done where diffusers' progress bar advances: after each `order` iterations
        // past the warm-up (PLMS's extra first model call, none elsewhere), and at the end.
        let j = i - begin + 1
        if j == loops || (j > warmup && j % scheduler.order == 0) {
            done += 1
            guard progress(done, total) else { throw LDMError.cancelled }
        }
    }
    return x
}

private func validate(_ p: SamplerParams, shape: [Int], start: (latent: Tensor, strength: Float)?) throws {
    let T = p.schedule.count
    // "leading" spacing with steps_offset 1 reaches timestep (steps-1)*(T/steps)+1, past the
    // schedule's end when steps == T.
    guard p.steps >= 1, p.steps < T else {
        throw LDMError.invalidArgument("steps must be in 1...\(T - 1) for a \(T)-step schedule, got \(p.steps)")
    }
    // Dividing T by steps + 1, DPM-Solver's first two timesteps at steps = T-1 are T and T-1,
    // both at sigma_max (np.interp clamps), and its second step divides by h = 0 (NaN in diffusers).
    if p.kind == .dpmpp_2m, p.steps == T - 1 {
        throw LDMError.invalidArgument("dpmpp_2m needs steps in 1...\(T - 2) for a \(T)-step schedule")
    }
    // Above 1, DDIM's sqrt(1 - alpha_prev - sigma^2) goes negative.
    guard p.eta >= 0, p.eta <= 1 else { throw LDMError.invalidArgument("eta must be in 0...1, got \(p.eta)") }
    if p.prediction == .sample, p.kind == .plms || p.kind == .euler_a {
        throw LDMError.unsupported("\(p.kind) does not support sample prediction (nor does diffusers)")
    }
    guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else {
        throw LDMError.invalidArgument("latent shape \(shape) must be non-empty with positive sizes")
    }
    if let start {
        guard start.strength > 0, start.strength <= 1 else {
            throw LDMError.invalidArgument("strength must be in (0, 1], got \(start.strength)")
        }
        guard start.latent.shape == shape else {
            throw LDMError.shape("init latent \(start.latent.shape) does not match the latent shape \(shape)")
        }
    }
}

/// The decimal a caller meant by a Float as the double Python would hold: int(steps * strength)
/// then truncates as diffusers does (10 * 0.7 is 7 there, 6.99... from Float(0.7)).
func pythonFloat(_ x: Float) -> Double {
    Double(x.description) ?? Double(x)
}
