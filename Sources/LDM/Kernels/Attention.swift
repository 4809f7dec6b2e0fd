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

/// Floats per worker for one head's keys and values packed whole (4 MB): enough for the
/// UNet's heads; the autoencoder's single wide head packs them per query block instead.
/// (Tests set it to 0 to compare both ways.)
var packedHeadBudget = 1 << 20

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
    // Each worker's score block, then the reciprocals of its queries' softmax sums (whole
    // cache lines, so the next worker's block starts on one).
    let perWorker = (block * tk + block + 15) / 16 * 16
    let scores = try ws.scratch.floats(.scores, workers * perWorker)
    // On ck_sgemm, K and V^T are packed once per head rather than once per query block: a
    // worker's items are consecutive, so it meets each of its heads' blocks in a row.
    let packedK = ck_packed_a_floats(tk, d), packedHead = packedK + ck_packed_a_floats(d, tk)
    let packs = BLAS.ownKernel && packedHead <= packedHeadBudget ? try ws.scratch.floats(.packed, workers * packedHead) : nil
    parallelChunks(items, threads: workers) { worker, range in
        let s = scores + worker * perWorker, inv = s + block * tk
        var packedFor = -1
        for item in range {
            let h = item / blocks, i0 = (item % blocks) * block, bq = min(block, tq - i0)
            let off = h * headStride
            let qb = q.base + off, kb = k.base + off, vb = v.base + off, ob = out + h * (outHeadStride ?? headStride)
            let qi = q.channelMajor ? qb + i0 : qb + i0 * q.ld, oi = outChannelMajor ? ob + i0 : ob + i0 * outLd
            if let packs {
                let pk = packs + worker * packedHead, pv = pk + packedK
                if packedFor != h {
                    ck_pack_a(k.channelMajor ? 1 : 0, tk, d, kb, k.ld, pk)
                    ck_pack_a(v.channelMajor ? 0 : 1, d, tk, vb, v.ld, pv)
                    packedFor = h
                }
                // S^T = scale K Q^T and O^T = V^T P^T as below with K and V^T packed (a
                // token-major O written as the transpose); without memory for packing the
                // other operand, the block is done below.
                if ck_sgemm_packed(pk, q.channelMajor ? 0 : 1, tk, bq, d, scale, qi, q.ld, 0, s, bq, 0) == 0 {
                    ck_exp_cols(s, tk, bq, bq, inv)
                    if ck_sgemm_packed(pv, 0, d, bq, tk, 1, s, bq, 0, oi, outLd, outChannelMajor ? 0 : 1) == 0 {
                        normalise(oi, ld: outLd, channelMajor: outChannelMajor, queries: bq, d: d, inv: inv)
                        continue
                    }
                }
            }
            // S^T = scale * K Q[i0 ..< i0+bq]^T, keys down and queries across: both products
            // then pack it by copying rows (P^T, unnormalised, is what P V reads).
            BLAS.gemm(transA: k.channelMajor, transB: !q.channelMajor, m: tk, n: bq, k: d, a: kb, lda: k.ld,
                      b: qi, ldb: q.ld, c: s, ldc: bq, alpha: scale, threads: 1)
            ck_exp_cols(s, tk, bq, bq, inv)
            if outChannelMajor {
                // O^T [d, bq] = V^T [d, tk] * P^T
                BLAS.gemm(transA: !v.channelMajor, m: d, n: bq, k: tk, a: vb, lda: v.ld, b: s, ldb: bq, c: oi, ldc: outLd, threads: 1)
            } else {
                // O [bq, d] = P [bq, tk] * V [tk, d]
                BLAS.gemm(transA: true, transB: v.channelMajor, m: bq, n: d, k: tk, a: s, lda: bq, b: vb, ldb: v.ld,
                          c: oi, ldc: outLd, threads: 1)
            }
            normalise(oi, ld: outLd, channelMajor: outChannelMajor, queries: bq, d: d, inv: inv)
        }
    }
}

/// Query i's output row times inv[i]: softmax's normalisation, applied to the bq x d output
/// rather than to the tk x bq probabilities (a pass over the score block saved, ~20% of the
/// softmax's time at 4096 keys).
private func normalise(_ o: UnsafeMutablePointer<Float>, ld: Int, channelMajor: Bool, queries: Int, d: Int, inv: UnsafePointer<Float>) {
    if channelMajor {
        for c in 0..<d {
            let row = o + c * ld
            for i in 0..<queries { row[i] *= inv[i] }
        }
    } else {
        for i in 0..<queries {
            let row = o + i * ld, x = inv[i]
            for c in 0..<d { row[c] *= x }
        }
    }
}

/// Row-wise softmax in place, in fp32 with the row maximum subtracted.
public func softmaxRows(_ s: UnsafeMutablePointer<Float>, rows: Int, cols: Int, threads: Int) {
    parallelRanges(rows, threads: threads) { rs in
        ck_softmax_rows(s + rs.lowerBound * cols, rs.count, cols, cols)
    }
}
