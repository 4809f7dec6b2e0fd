/// DDIMScheduler (Song et al.): x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma^2) eps + sigma z
/// with sigma = eta sqrt((1 - a_prev) / (1 - a) (1 - a / a_prev)). Past the first timestep
/// alpha_prev is alpha_bar[0] (set_alpha_to_one false).
final class DDIMSampler: AlphaScheduler {
    let schedule: NoiseSchedule
    let steps: [Int]
    private let prediction: Prediction
    private let eta: Float
    private let stride: Int
    private let noise: Tensor

    init(_ p: SamplerParams, count: Int) throws {
        schedule = p.schedule
        steps = leadingTimesteps(steps: p.steps, T: p.schedule.count, divisions: p.steps)
        prediction = p.prediction
        eta = p.eta
        stride = p.schedule.count / p.steps
        noise = try Tensor([count])
    }

    func step(_ output: Tensor, at i: Int, _ x: Tensor, _ rng: inout TorchRandom) throws {
        let t = steps[i], prev = t - stride
        let a = schedule.alphasCumprod[t]
        let aPrev = schedule.alphasCumprod[max(prev, 0)]
        let beta = 1 - a
        let sa = a.squareRoot(), sb = beta.squareRoot()
        let variance = (1 - aPrev) / beta * (1 - a / aPrev)
        let std = eta * variance.squareRoot()
        let cDir = (1 - aPrev - std * std).squareRoot(), cx0 = aPrev.squareRoot()
        for j in 0..<x.count {
            let out = output.data[j], xt = x.data[j]
            let x0: Float, eps: Float
            switch prediction {
            case .epsilon: x0 = (xt - sb * out) / sa; eps = out
            case .sample: x0 = out; eps = (xt - sa * out) / sb
            case .v: x0 = sa * xt - sb * out; eps = sa * out + sb * xt
            }
            x.data[j] = cx0 * x0 + cDir * eps
        }
        if eta > 0 {
            rng.fillNormal(noise.data, noise.count)
            for j in 0..<x.count { x.data[j] += std * noise.data[j] }
        }
    }
}
