/// The autoencoder's ResnetBlock: GN-SiLU-conv3x3, GN-SiLU-conv3x3, plus a 1x1 shortcut when
/// the channel count changes.
struct AEResnetBlock {
    let norm1: GroupNormLayer, conv1: Conv2dLayer
    let norm2: GroupNormLayer, conv2: Conv2dLayer
    let shortcut: Conv2dLayer?

    init(_ w: WeightScope, in cin: Int, out cout: Int, groups: Int) throws {
        norm1 = try GroupNormLayer(w("norm1"), channels: cin, groups: groups, eps: 1e-6)
        conv1 = try Conv2dLayer(w("conv1"), in: cin, out: cout, kernel: 3)
        norm2 = try GroupNormLayer(w("norm2"), channels: cout, groups: groups, eps: 1e-6)
        conv2 = try Conv2dLayer(w("conv2"), in: cout, out: cout, kernel: 3)
        shortcut = cin == cout ? nil : try Conv2dLayer(w("nin_shortcut"), in: cin, out: cout)
    }

    /// Consumes x. Without a shortcut the result goes into x's storage. With one, each band of
    /// x's rows goes through the shortcut as soon as conv1 has read it for the last time, and is
    /// then dropped: x shrinks as h and the shortcut's output grow, so the decoder's widest
    /// level (x 256 channels, the others 128, at 512x512 pixels) never holds all three.
    func callAsFunction(_ x: Tensor, _ ws: Workspace) throws -> Tensor {
        guard let shortcut else {
            let h = try conv1(x, map: norm1.map(x, silu: true, ws), ws)
            return try conv2(h, map: norm2.map(h, silu: true, ws), into: x, ws)
        }
        let width = x.shape[3]
        let out = try Tensor([x.shape[0], shortcut.outChannels, x.shape[2], width])
        let h = try conv1(x, map: norm1.map(x, silu: true, ws), consumed: x.dropAsConsumed { item, rows in
            try shortcut.pointwise(x, item: item, pixels: rows.lowerBound * width..<rows.upperBound * width, into: out, ws)
        }, ws)
        return try conv2(h, map: norm2.map(h, silu: true, ws), into: out, ws)
    }
}

/// The autoencoder's single-head self-attention over pixels; q, k, v and the output
/// projection are 1x1 convolutions (or Linear layers in diffusers files: same weights).
struct AEAttnBlock {
    let norm: GroupNormLayer
    let q: Conv2dLayer, k: Conv2dLayer, v: Conv2dLayer, proj: Conv2dLayer
    let channels: Int

    init(_ w: WeightScope, channels c: Int, groups: Int) throws {
        norm = try GroupNormLayer(w("norm"), channels: c, groups: groups, eps: 1e-6)
        q = try Conv2dLayer(w("q"), in: c, out: c)
        k = try Conv2dLayer(w("k"), in: c, out: c)
        v = try Conv2dLayer(w("v"), in: c, out: c)
        proj = try Conv2dLayer(w("proj_out"), in: c, out: c)
        channels = c
    }

    func callAsFunction(_ x: Tensor, _ ws: Workspace) throws -> Tensor {
        let h = try norm(x, ws)
        let qt = try q(h, ws), kt = try k(h, ws), vt = try v(h, ws)
        let tokens = x.itemCount / channels
        let o = try Tensor(x.shape)
        for b in 0..<x.shape[0] {
            try attention(q: AttnMatrix(qt.item(b), ld: tokens, channelMajor: true),
                          k: AttnMatrix(kt.item(b), ld: tokens, channelMajor: true),
                          v: AttnMatrix(vt.item(b), ld: tokens, channelMajor: true),
                          out: o.item(b), outLd: tokens, outChannelMajor: true,
                          tq: tokens, tk: tokens, d: channels, scale: 1 / Float(channels).squareRoot(), ws: ws)
        }
        let y = try proj(o, ws)
        addInPlace(y, x, ws: ws)
        return y
    }
}
