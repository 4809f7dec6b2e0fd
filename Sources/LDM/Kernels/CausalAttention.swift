import Glibc

/// Causal self-attention for one head: query i attends to keys 0...i only (CLIP's text
/// transformer). q, k, v are token-major [t, d] with rows `ld` apart; out likewise, `outLd`.
/// Like attention(...) it runs in blocks of query rows; a block computes no scores past its
/// last query, and the masked ones inside it get weight exp(-inf) = 0, as torch's mask gives.
public func causalAttention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int,
                            out: UnsafeMutablePointer<Float>, outLd: Int, tokens t: Int, d: Int, scale: Float,
                            ws: Workspace) throws {
    let block = max(1, min(t, (1 << 20) / max(t, 1)))
    let s = try ws.scratch.floats(.scores, block * t)
    var i0 = 0
    while i0 < t {
        let bq = min(block, t - i0), tk = i0 + bq
        BLAS.gemm(transB: true, m: bq, n: tk, k: d, a: q + i0 * ld, lda: ld, b: k, ldb: ld, c: s, ldc: tk,
                  alpha: scale, threads: ws.threads)
        for r in 0..<bq {
            let row = s + r * tk
            for j in (i0 + r + 1)..<tk { row[j] = -.infinity }
        }
        softmaxRows(s, rows: bq, cols: tk, threads: ws.threads)
        BLAS.gemm(m: bq, n: d, k: tk, a: s, lda: tk, b: v, ldb: ld, c: out + i0 * outLd, ldc: outLd, threads: ws.threads)
        i0 += bq
    }
}
