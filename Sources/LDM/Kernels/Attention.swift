import Glibc

/// Where one head's [tokens, channels] matrix lives: token-major ([T, d], rows `ld` apart) or
/// channel-major ([d, T], rows `ld` apart, as a 1x1 conv leaves it in NCHW).
public struct AttnMatrix {
    public let base: UnsafePointer<Float>
    public let ld: Int
    public let channelMajor: Bool

    public init(_ base: UnsafePointer<Float>, ld: Int, channelMajor: Bool) {
        self.base = base
        self.ld = ld
        self.channelMajor = channelMajor
    }
}

/// out = softmax(scale * Q K^T) V for one head, computed in blocks of query rows so the score
/// matrix held at once is bounded (a 4096-token self-attention never materialises in full).
/// `out` uses the same conventions as the operands.
public func attention(q: AttnMatrix, k: AttnMatrix, v: AttnMatrix, out: UnsafeMutablePointer<Float>, outLd: Int,
                      outChannelMajor: Bool, tq: Int, tk: Int, d: Int, scale: Float, ws: Workspace) throws {
    let block = max(1, min(tq, (1 << 20) / max(tk, 1)))
    let s = try ws.scratch.floats(.scores, block * tk)
    var i0 = 0
    while i0 < tq {
        let bq = min(block, tq - i0)
        // S = scale * Q[i0 ..< i0+bq] K^T
        BLAS.gemm(transA: q.channelMajor, transB: !k.channelMajor, m: bq, n: tk, k: d,
                  a: q.channelMajor ? q.base + i0 : q.base + i0 * q.ld, lda: q.ld,
                  b: k.base, ldb: k.ld, c: s, ldc: tk, alpha: scale, threads: ws.threads)
        softmaxRows(s, rows: bq, cols: tk, threads: ws.threads)
        if outChannelMajor {
            // O^T [d, bq] = V^T [d, tk] * P^T
            BLAS.gemm(transA: !v.channelMajor, transB: true, m: d, n: bq, k: tk, a: v.base, lda: v.ld,
                      b: s, ldb: tk, c: out + i0, ldc: outLd, threads: ws.threads)
        } else {
            // O [bq, d] = P [bq, tk] * V [tk, d]
            BLAS.gemm(transB: v.channelMajor, m: bq, n: d, k: tk, a: s, lda: tk, b: v.base, ldb: v.ld,
                      c: out + i0 * outLd, ldc: outLd, threads: ws.threads)
        }
        i0 += bq
    }
}

/// Row-wise softmax in place, in fp32 with the row maximum subtracted.
public func softmaxRows(_ s: UnsafeMutablePointer<Float>, rows: Int, cols: Int, threads: Int) {
    parallelRanges(rows, threads: threads) { rs in
        for r in rs {
            let row = s + r * cols
            var m = -Float.infinity
            for j in 0..<cols { m = max(m, row[j]) }
            var sum: Float = 0
            for j in 0..<cols {
                let e = expf(row[j] - m)
                row[j] = e
                sum += e
            }
            let inv = 1 / sum
            for j in 0..<cols { row[j] *= inv }
        }
    }
}
