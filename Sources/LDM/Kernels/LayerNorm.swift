import CKernels

/// LayerNorm over the last dimension of x [rows, n] (token-major), sums in Double.
public func layerNorm(_ x: UnsafePointer<Float>, rows: Int, n: Int, gamma: [Float], beta: [Float], eps: Float,
                      into y: UnsafeMutablePointer<Float>, threads: Int) {
    gamma.withUnsafeBufferPointer { g in
        beta.withUnsafeBufferPointer { b in
            parallelRanges(rows, threads: threads) { rs in
                for r in rs {
                    let src = x + r * n, dst = y + r * n
                    var mean = 0.0, variance = 0.0
                    ck_moments(src, n, &mean, &variance)
                    let rstd = Float(1 / (variance + Double(eps)).squareRoot()), m = Float(mean)
                    for i in 0..<n { dst[i] = (src[i] - m) * rstd * g[i] + b[i] }
                }
            }
        }
    }
}
