/// The openaimodel AttentionBlock of the unconditional, super-resolution, inpainting and
/// semantic LDMs: GroupNorm, multi-head self-attention over pixels, proj_out, residual.
/// CompVis stores one qkv 1x1 conv whose rows are per head [q | k | v] (the "legacy" order);
/// diffusers stores separate q, k, v. Both are read in place: a head's q, k and v are row
/// ranges of channel-major projections.
struct LegacyAttention {
    let norm: GroupNormLayer?
    let qkv: Conv2dLayer?
    let q: Conv2dLayer?, k: Conv2dLayer?, v: Conv2dLayer?
    let proj: Conv2dLayer
    let heads: Int
    let channels: Int

    init(_ w: WeightScope, channels c: Int, heads: Int, groups: Int, eps: Float) throws {
        // diffusers' UNet2DModel drops the norm of a scale-shift model's middle attention.
        norm = w.has("norm.weight") ? try GroupNormLayer(w("norm"), channels: c, groups: groups, eps: eps) : nil
        if w.has("qkv.weight") {
            qkv = try Conv2dLayer(w("qkv"), in: c, out: 3 * c)
            (q, k, v) = (nil, nil, nil)
        } else {
            qkv = nil
            q = try Conv2dLayer(w("q"), in: c, out: c)
            k = try Conv2dLayer(w("k"), in: c, out: c)
            v = try Conv2dLayer(w("v"), in: c, out: c)
        }
        proj = try Conv2dLayer(w("proj_out"), in: c, out: c)
        guard heads > 0, c % heads == 0 else { throw LDMError.model("\(w.prefix): \(c) channels cannot form \(heads) heads") }
        self.heads = heads
        channels = c
    }

    func callAsFunction(_ x: Tensor, _ ws: Workspace) throws -> Tensor {
        let h = try norm?(x, ws) ?? x
        let t = x.itemCount / channels, ch = channels / heads
        let o = try Tensor(x.shape)
        // Head j's q, k and v start at rows j*stride + offset of their projections.
        let qs: Tensor, ks: Tensor, vs: Tensor, stride: Int, offsets: (Int, Int, Int)
        if let qkv {
            let p = try qkv(h, ws)
            (qs, ks, vs, stride, offsets) = (p, p, p, 3 * ch, (0, ch, 2 * ch))
        } else {
            (qs, ks, vs, stride, offsets) = (try q!(h, ws), try k!(h, ws), try v!(h, ws), ch, (0, 0, 0))
        }
        for b in 0..<x.shape[0] {
            try attention(q: AttnMatrix(qs.item(b) + offsets.0 * t, ld: t, channelMajor: true),
                          k: AttnMatrix(ks.item(b) + offsets.1 * t, ld: t, channelMajor: true),
                          v: AttnMatrix(vs.item(b) + offsets.2 * t, ld: t, channelMajor: true),
                          out: o.item(b), outLd: t, outChannelMajor: true, heads: heads, headStride: stride * t,
                          outHeadStride: ch * t, tq: t, tk: t, d: ch, scale: 1 / Float(ch).squareRoot(), ws: ws)
        }
        let y = try proj(o, ws)
        addInPlace(y, x, ws: ws)
        return y
    }
}
