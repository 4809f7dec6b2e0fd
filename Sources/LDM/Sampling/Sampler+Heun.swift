/// HeunDiscreteScheduler: Heun's method on dx/dsigma = (x - x0) / sigma. Each step is an Euler
/// predictor to the next sigma and a corrector there averaging both slopes, so the loop visits
/// [t_0, t_1, t_1, ..., t_{S-1}, t_{S-1}] (order 2); the last step, to sigma 0, is Euler alone.
final class HeunSampler: SigmaScheduler {
    let timesteps: [Float]
    /// Per loop iteration: [s_0, s_1, s_1, ..., s_{S-1}, s_{S-1}, 0].
    let sigmas: [Float]
    let order = 2
    private let prediction: Prediction
    /// The predictor's start latent and slope; nil dt means the next iteration is a predictor.
    private let saved: Tensor, slope: Tensor
    private var dt: Float?

    init(_ p: SamplerParams, count: Int) throws {
        let ts = leadingTimesteps(steps: p.steps, T: p.schedule.count, divisions: p.steps)
        timesteps = ts.enumerated().flatMap { k, t in Array(repeating: Float(t), count: k == 0 ? 1 : 2) }
        sigmas = ts.enumerated().flatMap { k, t in Array(repeating: p.schedule.sigmas[t], count: k == 0 ? 1 : 2) } + [0]
        prediction = p.prediction
        saved = try Tensor([count])
        slope = try Tensor([count])
    }

    func step(_ output: Tensor, at i: Int, _ x: Tensor, _ rng: inout TorchRandom) throws {
        if let dt {
            // Corrector at sigma_next = sigmas[i]: average the slopes, step from the saved latent.
            let next = sigmas[i]
            for j in 0..<x.count {
                let xt = x.data[j]
                let x0 = predictedSample(output.data[j], xt, sigma: next, prediction)
                let d = (slope.data[j] + (xt - x0) / next) / 2
                x.data[j] = saved.data[j] + d * dt
            }
            self.dt = nil
        } else {
            let sigma = sigmas[i], dt = sigmas[i + 1] - sigma
            for j in 0..<x.count {
                let xt = x.data[j]
                let d = (xt - predictedSample(output.data[j], xt, sigma: sigma, prediction)) / sigma
                slope.data[j] = d
                saved.data[j] = xt
                x.data[j] = xt + d * dt
            }
            self.dt = dt
        }
    }
}
