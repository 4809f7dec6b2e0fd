/// Multi-head attention on token-major rows: to_q on x, to_k/to_v on the context (or x),
/// scaled dot products per head in query blocks, then to_out.
struct CrossAttention {
    let q: LinearLayer, k: LinearLayer, v: LinearLayer, out: LinearLayer
    let heads: Int

    init(_ w: WeightScope, dim: Int, contextDim: Int?, heads: Int) throws {
        q = try LinearLayer(w("to_q"), in: dim)
        k = try LinearLayer(w("to_k"), in: contextDim ?? dim, out: q.outFeatures)
        v = try LinearLayer(w("to_v"), in: contextDim ?? dim, out: q.outFeatures)
        out = try LinearLayer(w("to_out.0"), in: q.outFeatures, out: dim)
        guard heads > 0, q.outFeatures % heads == 0 else {
            throw LDMError.model("\(w.prefix): \(q.outFeatures) channels cannot form \(heads) heads")
        }
        self.heads = heads
    }

    /// x [N, T, dim], context [N, Tc, contextDim] or nil for self-attention -> [N, T, dim].
    func callAsFunction(_ x: Tensor, context: Tensor?, _ ws: Workspace) throws -> Tensor {
        let n = x.shape[0], t = x.shape[1], src = context ?? x, tc = src.shape[1]
        let inner = q.outFeatures, dh = inner / heads
        let qt = try q(x, ws), (kt, vt) = try keysAndValues(src, ws)
        let o = try Tensor([n, t, inner])
        let scale = 1 / Float(dh).squareRoot()
        for b in 0..<n {
            try attention(q: AttnMatrix(qt.item(b), ld: inner, channelMajor: false),
                          k: AttnMatrix(kt.item(b), ld: inner, channelMajor: false),
                          v: AttnMatrix(vt.item(b), ld: inner, channelMajor: false),
                          out: o.item(b), outLd: inner, outChannelMajor: false, heads: heads, headStride: dh,
                          tq: t, tk: tc, d: dh, scale: scale, ws: ws)
        }
        return try out(o, ws)
    }

    /// to_k and to_v of the attended tokens, projected once per sampling run for its fixed context.
    private func keysAndValues(_ src: Tensor, _ ws: Workspace) throws -> (Tensor, Tensor) {
        guard src === ws.fixedContext else { return (try k(src, ws), try v(src, ws)) }
        if let kv = ws.contextProjections[k.weight.name] { return kv }
        let kv = (try k(src, ws), try v(src, ws))
        ws.contextProjections[k.weight.name] = kv
        return kv
    }
}

/// BasicTransformerBlock: self-attention, cross-attention, GEGLU feed-forward, each pre-LN
/// with a residual.
struct TransformerBlock {
    let norm1: (gamma: [Float], beta: [Float]), norm2: (gamma: [Float], beta: [Float]), norm3: (gamma: [Float], beta: [Float])
    let attn1: CrossAttention, attn2: CrossAttention
    let ffIn: LinearLayer, ffOut: LinearLayer
    let dim: Int

    init(_ w: WeightScope, dim: Int, contextDim: Int?, heads: Int) throws {
        func norm(_ s: WeightScope) throws -> (gamma: [Float], beta: [Float]) {
            (try s.tensor("weight", shape: [dim]).floats(), try s.tensor("bias", shape: [dim]).floats())
        }
        norm1 = try norm(w("norm1"))
        norm2 = try norm(w("norm2"))
        norm3 = try norm(w("norm3"))
        attn1 = try CrossAttention(w("attn1"), dim: dim, contextDim: nil, heads: heads)
        attn2 = try CrossAttention(w("attn2"), dim: dim, contextDim: contextDim, heads: heads)
        ffIn = try LinearLayer(w("ff.net.0.proj"), in: dim)
        guard ffIn.outFeatures % 2 == 0 else { throw LDMError.model("\(w.prefix)ff.net.0.proj is not a GEGLU projection") }
        ffOut = try LinearLayer(w("ff.net.2"), in: ffIn.outFeatures / 2, out: dim)
        self.dim = dim
    }

    /// Rows of the feed-forward processed at once, which bounds its 8*dim-wide intermediate.
    static let ffRows = 1024

    /// x [N, T, dim] is updated in place.
    func callAsFunction(_ x: Tensor, context: Tensor?, _ ws: Workspace) throws {
        let rows = x.count / dim
        let h = try Tensor(x.shape)
        layerNorm(x.data, rows: rows, n: dim, gamma: norm1.gamma, beta: norm1.beta, eps: 1e-5, into: h.data, threads: ws.threads)
        addInPlace(x, try attn1(h, context: nil, ws), ws: ws)
        try ws.checkCancelled()
        layerNorm(x.data, rows: rows, n: dim, gamma: norm2.gamma, beta: norm2.beta, eps: 1e-5, into: h.data, threads: ws.threads)
        addInPlace(x, try attn2(h, context: context, ws), ws: ws)
        layerNorm(x.data, rows: rows, n: dim, gamma: norm3.gamma, beta: norm3.beta, eps: 1e-5, into: h.data, threads: ws.threads)
        let inner = ffIn.outFeatures / 2
        let chunk = min(rows, Self.ffRows)
        let proj = try Tensor([chunk, 2 * inner]), gated = try Tensor([chunk, inner]), y = try Tensor([chunk, dim])
        var r0 = 0
        while r0 < rows {
            let r = min(chunk, rows - r0)
            try ffIn(h.data + r0 * dim, rows: r, into: proj.data, ws)
            geglu(proj.data, rows: r, n: inner, into: gated.data, threads: ws.threads)
            try ffOut(gated.data, rows: r, into: y.data, ws)
            let dst = x.data + r0 * dim, src = y.data
            for i in 0..<(r * dim) { dst[i] += src[i] }
            r0 += r
        }
    }
}

/// SpatialTransformer: GroupNorm, proj_in (a 1x1 conv in LDM/SD1, a Linear in SD2: the same
/// weights and arithmetic), transformer blocks over the pixels as tokens, proj_out, residual.
struct SpatialTransformer {
    let norm: GroupNormLayer
    let projIn: LinearLayer, projOut: LinearLayer
    let blocks: [TransformerBlock]
    let channels: Int

    init(_ w: WeightScope, channels c: Int, contextDim: Int?, heads: Int, groups: Int) throws {
        norm = try GroupNormLayer(w("norm"), channels: c, groups: groups, eps: 1e-6)
        projIn = try LinearLayer(w("proj_in"), in: c)
        let inner = projIn.outFeatures
        let depth = try w.indices("transformer_blocks.")
        guard depth > 0 else { throw LDMError.model("\(w.prefix) has no transformer blocks") }
        blocks = try (0..<depth).map { try TransformerBlock(w("transformer_blocks.\($0)"), dim: inner, contextDim: contextDim, heads: heads) }
        projOut = try LinearLayer(w("proj_out"), in: inner, out: c)
        channels = c
    }

    func callAsFunction(_ x: Tensor, context: Tensor?, _ ws: Workspace) throws -> Tensor {
        let n = x.shape[0], t = x.itemCount / channels, inner = projIn.outFeatures
        let h = try norm(x, ws)
        // proj_in straight from channel-major pixels to token-major rows: tokens = h^T W^T.
        let tokens = try Tensor([n, t, inner])
        try projIn.weight.rows(ws).forEachBlock { o0, no, w in
            for b in 0..<n {
                BLAS.gemm(transA: true, transB: true, m: t, n: no, k: channels, a: h.item(b), lda: t, b: w, ldb: channels,
                          c: tokens.item(b) + o0, ldc: inner, threads: ws.threads)
            }
        }
        if let bias = projIn.bias { addRowBias(tokens.data, bias, rows: n * t, threads: ws.threads) }
        for block in blocks { try block(tokens, context: context, ws) }
        // proj_out back to channel-major: y = W tokens^T.
        let y = try Tensor(x.shape)
        try projOut.weight.rows(ws).forEachBlock { c0, nc, w in
            for b in 0..<n {
                BLAS.gemm(transB: true, m: nc, n: t, k: inner, a: w, lda: inner, b: tokens.item(b), ldb: inner,
                          c: y.item(b) + c0 * t, ldc: t, threads: ws.threads)
            }
        }
        if let bias = projOut.bias {
            for b in 0..<n { addChannelBias(y.item(b), bias, pixels: t, threads: ws.threads) }
        }
        addInPlace(y, x, ws: ws)
        return y
    }
}
