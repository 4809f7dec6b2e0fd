/// DDPMScheduler (Ho et al.), variance "fixed_small", on "leading" timesteps: the posterior
/// q(x_prev | x_t, x0) between consecutive timesteps, plus fresh noise at every step.
final class DDPMSampler: AlphaScheduler {
    let schedule: NoiseSchedule
    let steps: [Int]
    private let prediction: Prediction
    private let noise: Tensor

    init(_ p: SamplerParams, count: Int) throws {
        schedule = p.schedule
        steps = leadingTimesteps(steps: p.steps, T: p.schedule.count, divisions: p.steps)
        prediction = p.prediction
        noise = try Tensor([count])
    }

    func step(_ output: Tensor, at i: Int, _ x: Tensor, _ rng: inout TorchRandom) throws {
        let t = steps[i]
        let a = schedule.alphasCumprod[t]
        let aPrev: Float = i + 1 < steps.count ? schedule.alphasCumprod[steps[i + 1]] : 1
        let beta = 1 - a, betaPrev = 1 - aPrev
        let alphaStep = a / aPrev, betaStep = 1 - alphaStep
        let cx0 = aPrev.squareRoot() * betaStep / beta
        let cx = alphaStep.squareRoot() * betaPrev / beta
        let sa = a.squareRoot(), sb = beta.squareRoot()
        for j in 0..<x.count {
            let out = output.data[j], xt = x.data[j]
            let x0: Float
            switch prediction {
            case .epsilon: x0 = (xt - sb * out) / sa
            case .sample: x0 = out
            case .v: x0 = sa * xt - sb * out
            }
            x.data[j] = cx0 * x0 + cx * xt
        }
        // diffusers adds noise whenever t > 0, which "leading" timesteps always are, so the
        // last step draws too (with a variance clamped to 1e-20).
        let std = max(betaPrev / beta * betaStep, 1e-20).squareRoot()
        rng.fillNormal(noise.data, noise.count)
        for j in 0..<x.count { x.data[j] += std * noise.data[j] }
    }
}
