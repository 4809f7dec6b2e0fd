import Glibc

/// DPMSolverMultistepScheduler, "dpmsolver++" of order 2 (Lu et al.): exponential-integrator
/// steps on the data prediction x0 in lambda = log(alpha / sigma), the second-order ones
/// extrapolating from the previous step's x0. The first step and the last (to sigma 0) are
/// first order. No input scaling: the latent stays on the alpha x0 + sigma eps scale.
final class DPMSolverSampler: Scheduler {
    let timesteps: [Float]
    /// sigmas on the x0 + sigma eps scale, one per step plus the final 0.
    private let sigmas: [Float]
    private let prediction: Prediction
    private var x0: Tensor, previousX0: Tensor
    private var history = 0

    init(_ p: SamplerParams, karras: Bool, count: Int) throws {
        let s = p.schedule
        if karras {
            (sigmas, timesteps) = karrasSigmas(s, steps: p.steps)
        } else {
            // "leading" over steps + 1 intervals, dropping the last (timestep 1).
            let ts = leadingTimesteps(steps: p.steps + 1, T: s.count, divisions: p.steps + 1).dropLast()
            timesteps = ts.map(Float.init)
            sigmas = ts.map { s.sigmas[$0] } + [0]
        }
        prediction = p.prediction
        x0 = try Tensor([count])
        previousX0 = try Tensor([count])
    }

    /// alpha_t and sigma_t of x_t = alpha_t x0 + sigma_t eps for a noise level sigma.
    private func alphaSigma(_ sigma: Float) -> (alpha: Float, sigma: Float) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }

    func addNoise(_ x: Tensor, _ noise: Tensor, at i: Int) {
        let (alpha, sigma) = alphaSigma(sigmas[i])
        for j in 0..<x.count { x.data[j] = alpha * x.data[j] + sigma * noise.data[j] }
    }

    func step(_ output: Tensor, at i: Int, _ x: Tensor, _ rng: inout TorchRandom) throws {
        let (alphaS, sigmaS) = alphaSigma(sigmas[i])
        swap(&x0, &previousX0)
        for j in 0..<x.count {
            let out = output.data[j]
            switch prediction {
            case .epsilon: x0.data[j] = (x.data[j] - sigmaS * out) / alphaS
            case .sample: x0.data[j] = out
            case .v: x0.data[j] = alphaS * x.data[j] - sigmaS * out
            }
        }
        // At sigma 0, lambda_t is +inf: h = inf, exp(-h) = 0 and x becomes x0, as in diffusers.
        let (alphaT, sigmaT) = alphaSigma(sigmas[i + 1])
        let lambdaT = log(alphaT) - log(sigmaT), lambdaS = log(alphaS) - log(sigmaS)
        let h = lambdaT - lambdaS
        let cx = sigmaT / sigmaS, c0 = alphaT * (exp(-h) - 1)
        let m0 = x0.data, m1 = previousX0.data
        if history == 0 || i == sigmas.count - 2 {
            for j in 0..<x.count { x.data[j] = cx * x.data[j] - c0 * m0[j] }
        } else {
            let (alphaP, sigmaP) = alphaSigma(sigmas[i - 1])
            let r0 = (lambdaS - (log(alphaP) - log(sigmaP))) / h
            for j in 0..<x.count {
                let d1 = 1 / r0 * (m0[j] - m1[j])
                x.data[j] = cx * x.data[j] - c0 * m0[j] - 0.5 * c0 * d1
            }
        }
        history += 1
    }
}

/// Karras et al.'s sigmas, (sigma_max^(1/7) + ramp (sigma_min^(1/7) - sigma_max^(1/7)))^7 over
/// the whole training range, and their timesteps by log-sigma interpolation, rounded, in
/// double as diffusers computes them in numpy. For the cosine schedule diffusers skips the
/// rounding and the int64 cast truncates instead; kept, so timesteps match.
func karrasSigmas(_ s: NoiseSchedule, steps: Int) -> (sigmas: [Float], timesteps: [Float]) {
    let sMin = Double(s.sigmas[0]), sMax = Double(s.sigmas[s.count - 1])
    let lo = pow(sMin, 1 / 7.0), hi = pow(sMax, 1 / 7.0)
    let logSigmas = s.sigmas.map { Double(logf($0)) }
    var sigmas = [Float](), timesteps = [Float]()
    for k in 0..<steps {
        // np.linspace(0, 1, steps): k * (1 / (steps - 1)), the last exactly 1, [0] for one step.
        let ramp = steps == 1 ? 0 : k == steps - 1 ? 1 : Double(k) * (1 / Double(steps - 1))
        let sigma = pow(hi + ramp * (lo - hi), 7)
        let t = timestep(ofSigma: sigma, logSigmas)
        sigmas.append(Float(sigma))
        timesteps.append(Float(s.kind == .cosine ? t.rounded(.towardZero) : t.rounded(.toNearestOrEven)))
    }
    return (sigmas + [0], timesteps)
}

/// The fractional timestep whose sigma is `sigma`, interpolating linearly in log sigma between
/// the two training timesteps around it.
private func timestep(ofSigma sigma: Double, _ logSigmas: [Double]) -> Double {
    let ls = log(max(sigma, 1e-10))
    let low = min(logSigmas.lastIndex { ls - $0 >= 0 } ?? 0, logSigmas.count - 2)
    let w = min(max((logSigmas[low] - ls) / (logSigmas[low] - logSigmas[low + 1]), 0), 1)
    return (1 - w) * Double(low) + w * Double(low + 1)
}
