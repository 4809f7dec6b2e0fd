/// EulerAncestralDiscreteScheduler: an Euler step down to sigma_down, then fresh noise of
/// sigma_up, where sigma_down^2 + sigma_up^2 = sigma_next^2 (the ancestral DDPM split).
final class EulerAncestralSampler: SigmaScheduler {
    let timesteps: [Float]
    let sigmas: [Float]
    private let prediction: Prediction
    private let noise: Tensor

    init(_ p: SamplerParams, count: Int) throws {
        let ts = leadingTimesteps(steps: p.steps, T: p.schedule.count, divisions: p.steps)
        timesteps = ts.map(Float.init)
        sigmas = ts.map { p.schedule.sigmas[$0] } + [0]
        prediction = p.prediction
        noise = try Tensor([count])
    }

    func step(_ output: Tensor, at i: Int, _ x: Tensor, _ rng: inout TorchRandom) throws {
        let sigma = sigmas[i], next = sigmas[i + 1]
        let up = (next * next * (sigma * sigma - next * next) / (sigma * sigma)).squareRoot()
        let down = (next * next - up * up).squareRoot()
        let dt = down - sigma
        for j in 0..<x.count {
            let xt = x.data[j]
            let x0 = predictedSample(output.data[j], xt, sigma: sigma, prediction)
            x.data[j] = xt + (xt - x0) / sigma * dt
        }
        rng.fillNormal(noise.data, noise.count)
        for j in 0..<x.count { x.data[j] += noise.data[j] * up }
    }
}
