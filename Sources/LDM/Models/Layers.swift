/// A 2-D convolution whose weight stays in the mapped file until it is called.
struct Conv2dLayer {
    let weight: WeightTensor
    let bias: [Float]?
    let inChannels: Int
    let outChannels: Int
    let geometry: ConvGeometry

    init(_ w: WeightScope, in cin: Int, out cout: Int, kernel: Int = 1, geometry: ConvGeometry? = nil) throws {
        weight = try w.tensor("weight", shape: [cout, cin, kernel, kernel])
        bias = w.has("bias") ? try w.tensor("bias", shape: [cout]).floats() : nil
        inChannels = cin
        outChannels = cout
        self.geometry = geometry ?? ConvGeometry(kernel: kernel)
    }

    /// The convolution of x as `map` presents it, into a new tensor or added to `into`;
    /// `consumed` hears as x's rows are read for the last time.
    func callAsFunction(_ x: Tensor, map: InputMap = InputMap(), into: Tensor? = nil, consumed: Consumed? = nil,
                        _ ws: Workspace) throws -> Tensor {
        guard x.shape.count == 4, x.shape[1] == inChannels else {
            throw LDMError.shape("\(weight.name): input \(x.shape) does not have \(inChannels) channels")
        }
        return try conv2d(x, weight: weight.rows(ws), bias: bias, outChannels: outChannels, geometry: geometry, ws: ws,
                          map: map, into: into, consumed: consumed)
    }

    /// A pointwise convolution of pixels `pixels` of item `n` of x, into the same pixels of
    /// item `n` of `y`.
    func pointwise(_ x: Tensor, item n: Int, pixels: Range<Int>, into y: Tensor, _ ws: Workspace) throws {
        let plane = x.shape[2] * x.shape[3]
        guard geometry.isPointwise, x.shape.count == 4, x.shape[1] == inChannels,
              y.shape == [x.shape[0], outChannels, x.shape[2], x.shape[3]], pixels.upperBound <= plane else {
            throw LDMError.shape("\(weight.name): pixels \(pixels) of \(x.shape) cannot go into \(y.shape)")
        }
        guard !pixels.isEmpty else { return }
        let out = y.item(n) + pixels.lowerBound
        try weight.rows(ws).forEachBlock { k0, nk, w in
            BLAS.gemm(m: nk, n: pixels.count, k: inChannels, a: w, lda: inChannels, b: x.item(n) + pixels.lowerBound, ldb: plane,
                      c: out + k0 * plane, ldc: plane, threads: ws.threads)
        }
        if let bias { addChannelBias(out, bias, pixels: pixels.count, stride: plane, threads: ws.threads) }
    }
}

/// GroupNorm with its affine parameters, optionally followed by SiLU.
struct GroupNormLayer {
    let gamma: [Float]
    let beta: [Float]
    let groups: Int
    let eps: Float

    init(_ w: WeightScope, channels: Int, groups: Int, eps: Float) throws {
        guard groups > 0, channels % groups == 0 else {
            throw LDMError.model("\(w.prefix): \(channels) channels cannot form \(groups) groups")
        }
        gamma = try w.tensor("weight", shape: [channels]).floats()
        beta = try w.tensor("bias", shape: [channels]).floats()
        self.groups = groups
        self.eps = eps
    }

    func callAsFunction(_ x: Tensor, silu: Bool = false, _ ws: Workspace) throws -> Tensor {
        try groupNorm(x, groups: groups, gamma: gamma, beta: beta, eps: eps, silu: silu, ws: ws)
    }

    /// The norm of x (then SiLU) as a map for the convolution that reads it, so the normalized
    /// tensor is never stored.
    func map(_ x: Tensor, silu: Bool, _ ws: Workspace) -> InputMap {
        let (scale, shift) = groupNormAffine(x, groups: groups, gamma: gamma, beta: beta, eps: eps, threads: ws.threads)
        return InputMap(scale: scale, shift: shift, silu: silu)
    }
}

/// A Linear layer on token-major rows: y [rows, out] = x [rows, in] W^T + b.
struct LinearLayer {
    let weight: WeightTensor
    let bias: [Float]?
    let inFeatures: Int
    let outFeatures: Int

    /// Sizes come from the weight ([out, in], or a 1x1 conv's [out, in, 1, 1]) unless given.
    init(_ w: WeightScope, in i: Int? = nil, out o: Int? = nil) throws {
        let t = try w.tensor("weight")
        let core = t.coreShape
        guard core.count == 2 else { throw LDMError.model("\(t.name) has shape \(t.shape), not a linear weight") }
        try t.expect([o ?? core[0], i ?? core[1]])
        weight = t
        outFeatures = core[0]
        inFeatures = core[1]
        bias = w.has("bias") ? try w.tensor("bias", shape: [outFeatures]).floats() : nil
    }

    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, _ ws: Workspace) throws {
        try linear(x, rows: rows, inFeatures: inFeatures, weight: weight.rows(ws), bias: bias, outFeatures: outFeatures, into: y, ws: ws)
    }

    /// x [..., in] -> [..., out].
    func callAsFunction(_ x: Tensor, _ ws: Workspace) throws -> Tensor {
        guard x.shape.last == inFeatures else {
            throw LDMError.shape("\(weight.name): input \(x.shape) does not end in \(inFeatures) features")
        }
        let y = try Tensor(Array(x.shape.dropLast()) + [outFeatures])
        try self(x.data, rows: x.count / inFeatures, into: y.data, ws)
        return y
    }
}
