/// One diffusers scheduler after set_timesteps, as runSampler drives it. Loop index i runs over
/// `timesteps` (from t_start * order for img2img); every sampler keeps its step index equal to
/// i, which is what diffusers' begin index / timestep lookup amounts to.
protocol Scheduler: AnyObject {
    /// The timestep passed to the model at each loop iteration (diffusers' scheduler.timesteps).
    var timesteps: [Float] { get }
    /// Loop iterations per step (diffusers' scheduler.order).
    var order: Int { get }
    /// The initial noise is scaled by this (init_noise_sigma).
    var initNoiseSigma: Float { get }
    /// scale_model_input: the model's input at iteration i from the latent x.
    func scaleInput(_ x: Tensor, into input: Tensor, at i: Int)
    /// add_noise at timesteps[i], in place: x holds x0 and becomes x_t.
    func addNoise(_ x: Tensor, _ noise: Tensor, at i: Int)
    /// scheduler.step: advances x in place with the model output of iteration i.
    func step(_ output: Tensor, at i: Int, _ x: Tensor, _ rng: inout TorchRandom) throws
}

extension Scheduler {
    var order: Int { 1 }
    var initNoiseSigma: Float { 1 }
    func scaleInput(_ x: Tensor, into input: Tensor, at i: Int) {
        input.data.update(from: x.data, count: x.count)
    }
}

func makeScheduler(_ p: SamplerParams, count: Int) throws -> Scheduler {
    switch p.kind {
    case .ddpm: return try DDPMSampler(p, count: count)
    case .ddim: return try DDIMSampler(p, count: count)
    case .plms: return try PLMSSampler(p, count: count)
    case .euler: return EulerSampler(p)
    case .euler_a: return try EulerAncestralSampler(p, count: count)
    case .heun: return try HeunSampler(p, count: count)
    case .dpmpp_2m: return try DPMSolverSampler(p, karras: false, count: count)
    case .dpmpp_2m_karras: return try DPMSolverSampler(p, karras: true, count: count)
    }
}

/// "leading" spacing with steps_offset 1: k * (T / divisions) + 1 for k = steps-1 ... 0.
/// DDPM, DDIM, PNDM and the Euler family divide T by steps, DPM-Solver by steps + 1 (and then
/// drops k = 0 instead).
func leadingTimesteps(steps: Int, T: Int, divisions: Int) -> [Int] {
    let ratio = T / divisions
    return (0..<steps).reversed().map { $0 * ratio + 1 }
}

/// Samplers on the variance-preserving latent x_t = sqrt(a) x0 + sqrt(1 - a) eps, a = alpha_bar_t
/// (DDPM, DDIM, PLMS): integer timesteps, no input scaling.
protocol AlphaScheduler: Scheduler {
    var schedule: NoiseSchedule { get }
    var steps: [Int] { get }
}

extension AlphaScheduler {
    var timesteps: [Float] { steps.map(Float.init) }

    func addNoise(_ x: Tensor, _ noise: Tensor, at i: Int) {
        let a = schedule.alphasCumprod[steps[i]]
        let cx = a.squareRoot(), cn = (1 - a).squareRoot()
        for j in 0..<x.count { x.data[j] = cx * x.data[j] + cn * noise.data[j] }
    }
}

/// Samplers on x / sqrt(alpha_bar) = x0 + sigma eps (Euler, Euler ancestral, Heun): the model
/// sees x / sqrt(sigma^2 + 1). `sigmas` holds one entry per loop iteration plus the final 0.
protocol SigmaScheduler: Scheduler {
    var sigmas: [Float] { get }
}

extension SigmaScheduler {
    /// diffusers' value for "leading" spacing (sigma_max itself for "linspace"/"trailing").
    var initNoiseSigma: Float {
        let top = sigmas.max() ?? 0
        return (top * top + 1).squareRoot()
    }

    func scaleInput(_ x: Tensor, into input: Tensor, at i: Int) {
        let s = sigmas[i]
        let d = (s * s + 1).squareRoot()
        for j in 0..<x.count { input.data[j] = x.data[j] / d }
    }

    func addNoise(_ x: Tensor, _ noise: Tensor, at i: Int) {
        let s = sigmas[i]
        for j in 0..<x.count { x.data[j] += noise.data[j] * s }
    }
}

/// x0 from a model output at noise level sigma on the x0 + sigma eps scale, as the Euler-family
/// schedulers compute it.
@inline(__always)
func predictedSample(_ out: Float, _ x: Float, sigma: Float, _ prediction: Prediction) -> Float {
    switch prediction {
    case .epsilon: return x - sigma * out
    case .sample: return out
    case .v: return out * (-sigma / (sigma * sigma + 1).squareRoot()) + x / (sigma * sigma + 1)
    }
}
