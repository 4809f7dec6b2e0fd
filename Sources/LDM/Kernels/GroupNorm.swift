import CKernels

/// GroupNorm over x [N, C, ...] as a per (item, channel) affine map: each group of C/groups
/// channels is one contiguous span in NCHW, whose mean and biased variance (summed in Double,
/// so large spans stay exact to fp32) give scale = gamma * rstd and shift = beta - mean * scale.
/// A convolution can apply the map while it reads its input (InputMap), or groupNorm applies it.
public func groupNormAffine(_ x: Tensor, groups: Int, gamma: [Float], beta: [Float], eps: Float,
                            threads: Int) -> (scale: [Float], shift: [Float]) {
    let n = x.shape[0], c = x.shape[1]
    let spatial = x.itemCount / c, perGroup = c / groups
    var scale = [Float](repeating: 0, count: n * c), shift = [Float](repeating: 0, count: n * c)
    scale.withUnsafeMutableBufferPointer { sp in
        shift.withUnsafeMutableBufferPointer { hp in
            let sp = sp.baseAddress!, hp = hp.baseAddress!
            parallelRanges(n * groups, threads: threads) { jobs in
                for job in jobs {
                    let b = job / groups, g = job % groups
                    let src = x.data + b * x.itemCount + g * perGroup * spatial
                    let count = perGroup * spatial
                    var mean = 0.0, variance = 0.0
                    ck_moments(src, count, &mean, &variance)
                    let rstd = 1 / (variance + Double(eps)).squareRoot()
                    for ch in 0..<perGroup {
                        let cc = g * perGroup + ch
                        let s = Float(rstd) * gamma[cc]
                        sp[b * c + cc] = s
                        hp[b * c + cc] = beta[cc] - Float(mean) * s
                    }
                }
            }
        }
    }
    return (scale, shift)
}

/// GroupNorm, optionally followed by SiLU, into a new tensor.
public func groupNorm(_ x: Tensor, groups: Int, gamma: [Float], beta: [Float], eps: Float,
                      silu: Bool, ws: Workspace) throws -> Tensor {
    let (scale, shift) = groupNormAffine(x, groups: groups, gamma: gamma, beta: beta, eps: eps, threads: ws.threads)
    return try InputMap(scale: scale, shift: shift, silu: silu).apply(x, ws: ws)
}
