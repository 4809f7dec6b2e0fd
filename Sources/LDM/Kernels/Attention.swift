import CKernels

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

/// Query rows whose scores fit a core's L2 cache next to the keys.
func attentionBlock(tq: Int, tk: Int) -> Int { max(8, min(tq, (1 << 18) / max(tk, 1))) }

/// out = softmax(scale * Q K^T) V for `heads` heads; head h's q, k and v start `headStride`
/// floats after head 0's, its output `outHeadStride` floats (the same unless given). Work is split into (head, query block)
/// items, each a single-threaded GEMM, softmax and GEMM whose score block stays in cache, so
/// the full score matrix never exists and results do not depend on the thread count.
public func attention(q: AttnMatrix, k: AttnMatrix, v: AttnMatrix, out: UnsafeMutablePointer<Float>, outLd: Int,
                      outChannelMajor: Bool, heads: Int = 1, headStride: Int = 0, outHeadStride: Int? = nil,
                      tq: Int, tk: Int, d: Int, scale: Float, ws: Workspace) throws {
    let block = attentionBlock(tq: tq, tk: tk)
    let blocks = (tq + block - 1) / block
    let items = heads * blocks
    let workers = min(ws.threads, items)
    let scores = try ws.scratch.floats(.scores, workers * block * tk)
    parallelChunks(items, threads: workers) { worker, range in
        let s = scores + worker * block * tk
        for item in range {
            let h = item / blocks, i0 = (item % blocks) * block, bq = min(block, tq - i0)
            let off = h * headStride
            let qb = q.base + off, kb = k.base + off, vb = v.base + off, ob = out + h * (outHeadStride ?? headStride)
            // S^T = scale * K Q[i0 ..< i0+bq]^T, keys down and queries across: both products
            // then pack it by copying rows (P^T is what P V reads).
            BLAS.gemm(transA: k.channelMajor, transB: !q.channelMajor, m: tk, n: bq, k: d, a: kb, lda: k.ld,
                      b: q.channelMajor ? qb + i0 : qb + i0 * q.ld, ldb: q.ld, c: s, ldc: bq, alpha: scale, threads: 1)
            ck_softmax_cols(s, tk, bq, bq)
            if outChannelMajor {
                // O^T [d, bq] = V^T [d, tk] * P^T
                BLAS.gemm(transA: !v.channelMajor, m: d, n: bq, k: tk, a: vb, lda: v.ld, b: s, ldb: bq,
                          c: ob + i0, ldc: outLd, threads: 1)
            } else {
                // O [bq, d] = P [bq, tk] * V [tk, d]
                BLAS.gemm(transA: true, transB: v.channelMajor, m: bq, n: d, k: tk, a: s, lda: bq, b: vb, ldb: v.ld,
                          c: ob + i0 * outLd, ldc: outLd, threads: 1)
            }
        }
    }
}

/// Row-wise softmax in place, in fp32 with the row maximum subtracted.
public func softmaxRows(_ s: UnsafeMutablePointer<Float>, rows: Int, cols: Int, threads: Int) {
    parallelRanges(rows, threads: threads) { rs in
        ck_softmax_rows(s + rs.lowerBound * cols, rs.count, cols, cols)
    }
}
