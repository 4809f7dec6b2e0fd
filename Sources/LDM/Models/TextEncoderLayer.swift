/// One pre-LN encoder layer, the form every text encoder family shares:
/// x += out(attention(norm1 x)), then x += fc2(act(fc1(norm2 x))). CLIP's attention is
/// causal; the BERT-style encoders' is not. q, k, v may have an inner width other than the
/// model's (LDMBert: 8 heads x 64 = 512 inside a 1280-wide model).
struct TextEncoderLayer {
    let norm1: LayerNormLayer, norm2: LayerNormLayer
    let q: LinearLayer, k: LinearLayer, v: LinearLayer, out: LinearLayer
    let fc1: LinearLayer, fc2: LinearLayer
    let heads: Int
    let causal: Bool
    let activation: Activation

    init(_ w: WeightScope, _ names: TextEncoderNames.Layer, width: Int, heads: Int, causal: Bool, activation: Activation,
         eps: Float) throws {
        norm1 = try LayerNormLayer(w(names.norm1), n: width, eps: eps)
        norm2 = try LayerNormLayer(w(names.norm2), n: width, eps: eps)
        switch names.qkv {
        case .separate(let qn, let kn, let vn):
            q = try LinearLayer(w(qn), in: width)
            k = try LinearLayer(w(kn), in: width, out: q.outFeatures)
            v = try LinearLayer(w(vn), in: width, out: q.outFeatures)
        case .stacked(let weight, let bias):
            let t = try w.tensor(weight, shape: [3 * width, width]), b = try w.tensor(bias, shape: [3 * width]).floats()
            func part(_ i: Int) throws -> LinearLayer {
                LinearLayer(weight: try t.rows(i * width ..< (i + 1) * width), bias: Array(b[i * width ..< (i + 1) * width]))
            }
            (q, k, v) = (try part(0), try part(1), try part(2))
        }
        out = try LinearLayer(w(names.out), in: q.outFeatures, out: width)
        fc1 = try LinearLayer(w(names.fc1), in: width)
        fc2 = try LinearLayer(w(names.fc2), in: fc1.outFeatures, out: width)
        guard heads > 0, q.outFeatures % heads == 0 else {
            throw LDMError.model("\(w.prefix)\(names.out): \(q.outFeatures) attention channels cannot form \(heads) heads")
        }
        self.heads = heads
        self.causal = causal
        self.activation = activation
    }

    var inner: Int { q.outFeatures }

    /// x [T, width] is updated in place.
    func callAsFunction(_ x: Tensor, _ ws: Workspace) throws {
        let t = x.shape[0], dh = inner / heads
        let h = try Tensor(x.shape)
        norm1(x, into: h, ws)
        let qt = try q(h, ws), kt = try k(h, ws), vt = try v(h, ws)
        let o = try Tensor([t, inner])
        let scale = 1 / Float(dh).squareRoot()
        for head in 0..<heads {
            let c = head * dh
            if causal {
                try causalAttention(q: qt.data + c, k: kt.data + c, v: vt.data + c, ld: inner, out: o.data + c, outLd: inner,
                                    tokens: t, d: dh, scale: scale, ws: ws)
            } else {
                try attention(q: AttnMatrix(qt.data + c, ld: inner, channelMajor: false),
                              k: AttnMatrix(kt.data + c, ld: inner, channelMajor: false),
                              v: AttnMatrix(vt.data + c, ld: inner, channelMajor: false),
                              out: o.data + c, outLd: inner, outChannelMajor: false, tq: t, tk: t, d: dh, scale: scale, ws: ws)
            }
        }
        addInPlace(x, try out(o, ws), ws: ws)
        norm2(x, into: h, ws)
        let f = try fc1(h, ws)
        activateInPlace(f, activation, ws: ws)
        addInPlace(x, try fc2(f, ws), ws: ws)
    }
}

extension LinearLayer {
    /// A Linear from a weight already in hand (a slice of a stacked projection).
    init(weight: WeightTensor, bias: [Float]?) {
        self.weight = weight
        self.bias = bias
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
    }
}

extension WeightTensor {
    /// Rows `r` of a 2-D weight as a tensor of its own over the same mapped bytes.
    func rows(_ r: Range<Int>) throws -> WeightTensor {
        let columns = shape[1]
        guard let offset = type.byteCount(r.lowerBound * columns), let size = type.byteCount(r.count * columns) else {
            throw LDMError.model("\(name): rows \(r) of \(shape) cannot be cut from a \(type) tensor")
        }
        return try WeightTensor(name: "\(name)[\(r.lowerBound)..<\(r.upperBound)]", shape: [r.count, columns], type: type,
                                bytes: bytes + offset, byteCount: size, file: file)
    }
}
