import CKernels

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

    /// `embAct` is SiLU(time embedding) [N, embDim], shared by every block of a UNet call.
    func callAsFunction(_ x: Tensor, embAct: Tensor, _ ws: Workspace) throws -> Tensor {
        var h = try inNorm(x, silu: true, ws)
        var input = x
        if let resample {
            h = try resampled(h, resample, ws)
            input = try resampled(x, resample, ws)
        }
        h = try inConv(h, ws)
        let e = try emb(embAct, ws)  // [N, C] or [N, 2C]
        let n = h.shape[0], c = outChannels, plane = h.itemCount / c
        if scaleShift {
            h = try outNorm(h, ws)
            for b in 0..<n {
                let scale = e.data + b * 2 * c, shift = scale + c
                parallelRanges(c, threads: ws.threads) { cs in
                    for ch in cs {
                        let p = h.item(b) + ch * plane
                        ck_affine(p, p, plane, 1 + scale[ch], shift[ch], 1)
                    }
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
            h = try outNorm(h, silu: true, ws)
        }
        h = try outConv(h, ws)
        addInPlace(h, try skip?(input, ws) ?? input, ws: ws)
        return h
    }

    private func resampled(_ x: Tensor, _ r: Resample, _ ws: Workspace) throws -> Tensor {
        r == .up ? try upsampleNearest2x(x, ws: ws) : try avgPool2x(x, ws: ws)
    }
}
