/// The UNet's ResBlock (CompVis openaimodel): GN-SiLU-conv, the time embedding added per
/// channel (or as scale and shift around the second norm), GN-SiLU-conv, plus a skip. The
/// resblock_updown variants resample both paths after the first norm.
struct UNetResBlock {
    enum Resample { case down, up }

    let inNorm: GroupNormLayer, inConv: Conv2dLayer
    let emb: LinearLayer
    let outNorm: GroupNormLayer, outConv: Conv2dLayer
    let skip: Conv2dLayer?
    let resample: Resample?
    let scaleShift: Bool
    let outChannels: Int

    init(_ w: WeightScope, in cin: Int, embDim: Int, groups: Int, eps: Float, resample: Resample? = nil) throws {
        let cout = try w.tensor("in_layers.2.weight").shape[0]
        inNorm = try GroupNormLayer(w("in_layers.0"), channels: cin, groups: groups, eps: eps)
        inConv = try Conv2dLayer(w("in_layers.2"), in: cin, out: cout, kernel: 3)
        emb = try LinearLayer(w("emb_layers.1"), in: embDim)
        guard emb.outFeatures == cout || emb.outFeatures == 2 * cout else {
            throw LDMError.model("\(w.prefix)emb_layers.1 gives \(emb.outFeatures) features for \(cout) channels")
        }
        scaleShift = emb.outFeatures == 2 * cout
        outNorm = try GroupNormLayer(w("out_layers.0"), channels: cout, groups: groups, eps: eps)
        outConv = try Conv2dLayer(w("out_layers.3"), in: cout, out: cout, kernel: 3)
        if w.has("skip_connection.weight") {
            let k = try w.tensor("skip_connection.weight").shape.last ?? 1
            skip = try Conv2dLayer(w("skip_connection"), in: cin, out: cout, kernel: k)
        } else {
            guard cin == cout else { throw LDMError.model("\(w.prefix) changes \(cin) to \(cout) channels without a skip convolution") }
            skip = nil
        }
        self.resample = resample
        outChannels = cout
    }

    /// `embAct` is SiLU(time embedding) [N, embDim], shared by every block of a UNet call. The
    /// norms reach the convolutions as input maps (nearest upsampling too, which commutes with
    /// them); only downsampling stores the normalized input.
    func callAsFunction(_ x: Tensor, embAct: Tensor, _ ws: Workspace) throws -> Tensor {
        var h: Tensor, input = x
        switch resample {
        case nil:
            h = try inConv(x, map: inNorm.map(x, silu: true, ws), ws)
        case .up:
            var map = inNorm.map(x, silu: true, ws)
            map.upsample = true
            h = try inConv(x, map: map, ws)
            input = try upsampleNearest2x(x, ws: ws)
        case .down:
            h = try inConv(try avgPool2x(try inNorm(x, silu: true, ws), ws: ws), ws)
            input = try avgPool2x(x, ws: ws)
        }
        let e = try emb(embAct, ws)  // [N, C] or [N, 2C]
        let n = h.shape[0], c = outChannels, plane = h.itemCount / c
        var map: InputMap
        if scaleShift {
            // GN(h) * (1 + scale) + shift is one affine map per (item, channel).
            map = outNorm.map(h, silu: true, ws)
            for b in 0..<n {
                for ch in 0..<c {
                    let s = 1 + e.data[b * 2 * c + ch], t = e.data[b * 2 * c + c + ch]
                    map.scale![b * c + ch] *= s
                    map.shift![b * c + ch] = map.shift![b * c + ch] * s + t
                }
            }
        } else {
            for b in 0..<n {
                let add = e.data + b * c
                parallelRanges(c, threads: ws.threads) { cs in
                    for ch in cs {
                        let p = h.item(b) + ch * plane, v = add[ch]
                        for i in 0..<plane { p[i] += v }
                    }
                }
            }
            map = outNorm.map(h, silu: true, ws)
        }
        let out = try skip?(input, ws) ?? input.copy()
        return try outConv(h, map: map, into: out, ws)
    }

}
