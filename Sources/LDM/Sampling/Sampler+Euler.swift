/// EulerDiscreteScheduler (Karras et al.'s Euler method, no churn): one Euler step of
/// dx/dsigma = (x - x0) / sigma per timestep, on sigma = sqrt((1 - a) / a) at "leading" timesteps.
final class EulerSampler: SigmaScheduler {
    let timesteps: [Float]
    let sigmas: [Float]
    private let prediction: Prediction

    init(_ p: SamplerParams) {
        let ts = leadingTimesteps(steps: p.steps, T: p.schedule.count, divisions: p.steps)
        timesteps = ts.map(Float.init)
        sigmas = ts.map { p.schedule.sigmas[$0] } + [0]
        prediction = p.prediction
    }

    func step(_ output: Tensor, at i: Int, _ x: Tensor, _ rng: inout TorchRandom) throws {
        let sigma = sigmas[i], dt = sigmas[i + 1] - sigma
        for j in 0..<x.count {
            let xt = x.data[j]
            let x0 = predictedSample(output.data[j], xt, sigma: sigma, prediction)
            x.data[j] = xt + (xt - x0) / sigma * dt
        }
    }
}
