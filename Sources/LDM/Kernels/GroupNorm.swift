import CKernels

/// GroupNorm over x [N, C, ...]: each group of C/groups channels is one contiguous span in
/// NCHW, normalised with its mean and biased variance (sums in Double, so large spans stay
/// exact to fp32), then scaled per channel; SiLU is fused when asked.
public func groupNorm(_ x: Tensor, groups: Int, gamma: [Float], beta: [Float], eps: Float,
                      silu: Bool, ws: Workspace) throws -> Tensor {
    let n = x.shape[0], c = x.shape[1]
    let spatial = x.itemCount / c
    let perGroup = c / groups
    let y = try Tensor(x.shape)
    gamma.withUnsafeBufferPointer { gp in
        beta.withUnsafeBufferPointer { bp in
            parallelRanges(n * groups, threads: ws.threads) { jobs in
                for job in jobs {
                    let b = job / groups, g = job % groups
                    let offset = b * x.itemCount + g * perGroup * spatial
                    let src = x.data + offset, dst = y.data + offset
                    let count = perGroup * spatial
                    var sum = 0.0
                    for i in 0..<count { sum += Double(src[i]) }
                    let mean = sum / Double(count)
                    var sq = 0.0
                    for i in 0..<count { let d = Double(src[i]) - mean; sq += d * d }
                    let rstd = 1 / (sq / Double(count) + Double(eps)).squareRoot()
                    for ch in 0..<perGroup {
                        let cc = g * perGroup + ch
                        let scale = Float(rstd) * gp[cc]
                        let shift = bp[cc] - Float(mean) * scale
                        ck_affine(src + ch * spatial, dst + ch * spatial, spatial, scale, shift, silu ? 1 : 0)
                    }
                }
            }
        }
    }
    return y
}
