/// PNDMScheduler with skip_prk_steps (Liu et al.'s PLMS, the LDM paper's fast sampler): linear
/// multistep on eps with Adams-Bashforth weights. Its first step has no history, so it is a
/// predictor-corrector pair: the loop visits [t_{S-1}, t_{S-2}, t_{S-2}, t_{S-3}, ..., t_0]
/// and the second visit of t_{S-2} redoes the first step with the mean of both outputs.
///
/// The step counter starts at the loop's first iteration, and img2img slices that list at
/// t_start as diffusers does, so an img2img run's second iteration gets the corrected latent
/// at t_{k-1} while the model is told t_{k-2} (and steps on from there): a diffusers quirk,
/// reproduced so results match.
final class PLMSSampler: AlphaScheduler {
    let schedule: NoiseSchedule
    let steps: [Int]
    private let prediction: Prediction
    private let stride: Int
    private var outputs: [Tensor] = []
    /// The latent the first step started from, for its corrector.
    private let first: Tensor
    private let combined: Tensor
    private var counter = 0

    init(_ p: SamplerParams, count: Int) throws {
        schedule = p.schedule
        let ts = leadingTimesteps(steps: p.steps, T: p.schedule.count, divisions: p.steps)
        steps = ts.count > 1 ? [ts[0], ts[1]] + ts[1...] : ts
        prediction = p.prediction
        stride = p.schedule.count / p.steps
        first = try Tensor([count])
        combined = try Tensor([count])
    }

    func step(_ output: Tensor, at i: Int, _ x: Tensor, _ rng: inout TorchRandom) throws {
        var t = steps[i], prev = t - stride
        if counter == 1 {
            // The corrector: from the saved latent at the previous timestep, with the mean of
            // both outputs, to this timestep again.
            prev = t
            t += stride
        } else {
            if outputs.count == 4 { outputs.removeFirst() }
            outputs.append(output)
        }
        // Adams-Bashforth on the outputs, newest first. They stay in the model's
        // parameterization; v becomes eps below with the current latent, as diffusers does.
        let e = outputs.reversed().map { $0.data }, m = combined.data
        switch (counter, e.count) {
        case (1, _): for j in 0..<x.count { m[j] = (output.data[j] + e[0][j]) / 2 }
        case (_, 1): m.update(from: e[0], count: x.count)
        case (_, 2): for j in 0..<x.count { m[j] = (3 * e[0][j] - e[1][j]) / 2 }
        case (_, 3): for j in 0..<x.count { m[j] = (23 * e[0][j] - 16 * e[1][j] + 5 * e[2][j]) / 12 }
        default:
            for j in 0..<x.count { m[j] = 1 / 24 * (55 * e[0][j] - 59 * e[1][j] + 37 * e[2][j] - 9 * e[3][j]) }
        }
        if counter == 0 { first.data.update(from: x.data, count: x.count) }
        let sample = counter == 1 ? first : x
        let a = schedule.alphasCumprod[t]
        let aPrev = schedule.alphasCumprod[max(prev, 0)]
        let beta = 1 - a, betaPrev = 1 - aPrev
        let cx = (aPrev / a).squareRoot()
        let denominator = a * betaPrev.squareRoot() + (a * beta * aPrev).squareRoot()
        let sa = a.squareRoot(), sb = beta.squareRoot()
        for j in 0..<x.count {
            let xt = sample.data[j]
            let eps = prediction == .v ? sa * m[j] + sb * xt : m[j]
            x.data[j] = cx * xt - (aPrev - a) * eps / denominator
        }
        counter += 1
    }
}
