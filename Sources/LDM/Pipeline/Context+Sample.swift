/// Options of one sampling run, with diffusers' defaults.
public struct SampleOptions {
    public var sampler: SamplerKind = .ddim
    public var steps = 50
    /// Classifier-free guidance scale; 1 turns guidance off.
    public var guidance: Float = 1
    public var eta: Float = 0
    public var seed: UInt64 = 0
    /// The latent's [height, width]; nil: the UNet's native size.
    public var latentSize: [Int]?
    /// img2img: the clean latent [C, h, w] to start from, and how far to noise it (0, 1].
    public var initLatent: Tensor?
    public var strength: Float = 0.8
    /// img2img from an image: encoded as diffusers' img2img pipeline does (the KL posterior
    /// sampled from the seed's stream, which the noise then continues); sets the latent size.
    public var initImage: Image?

    public init() {}
}

extension Context {
    /// The latent [h, w] for an image of `width` x `height` pixels, or the native size.
    public func latentSize(width: Int, height: Int) throws -> [Int]? {
        if width == 0 && height == 0 { return nil }
        guard let f = model.autoencoder?.config.downsampleFactor else {
            throw LDMError.invalidArgument("this model has no autoencoder: give the latent size instead of pixels")
        }
        guard width > 0, height > 0, width % f == 0, height % f == 0, width <= Image.maxSide, height <= Image.maxSide else {
            throw LDMError.invalidArgument("\(width)x\(height) pixels: both sides must be positive multiples of \(f) up to \(Image.maxSide)")
        }
        return [height / f, width / f]
    }

    /// Runs the denoising loop: returns the scaled latent [C, h, w]. `uncond` is the other
    /// side of classifier-free guidance, needed when guidance != 1. `progress(step, total)`
    /// returning false cancels.
    public func sample(_ o: SampleOptions, cond: Conditioning?, uncond: Conditioning?,
                       progress: ((Int, Int) -> Bool)? = nil) throws -> Tensor {
        defer { finish() }
        guard let unet = model.unet else { throw LDMError.model("\(model.path) has no UNet to sample with") }
        ws.resetCancel()
        let c = unet.config.outChannels
        var rng = TorchRandom(seed: o.seed)
        var initLatent = o.initLatent
        if let image = o.initImage {
            let ae = try model.requireAutoencoder()
            let f = ae.config.downsampleFactor
            guard image.width % f == 0, image.height % f == 0 else {
                throw LDMError.shape("init image \(image.width)x\(image.height) is not a multiple of the autoencoder's factor \(f)")
            }
            let noise = ae.config.kind == .kl ? try rng.normal([1, ae.config.embedDim, image.height / f, image.width / f]) : nil
            let z = try ae.encode(try image.tensor(), noise: noise, ws: ws)
            z.reshape(Array(z.shape.dropFirst()))
            initLatent = z
        }
        if let initLatent, let size = o.latentSize, Array(initLatent.shape.dropFirst()) != size {
            throw LDMError.shape("the initial latent is \(initLatent.shape), the requested size \(size)")
        }
        guard let hw = initLatent.map({ Array($0.shape.dropFirst()) }) ?? o.latentSize ?? model.nativeLatentSize else {
            throw LDMError.invalidArgument("the model does not say its native size: give a width and height")
        }
        guard hw.count == 2, hw[0] > 0, hw[1] > 0, hw[0] % unet.factor == 0, hw[1] % unet.factor == 0,
              hw[0] <= Image.maxSide, hw[1] <= Image.maxSide else {
            throw LDMError.invalidArgument("latent \(hw): sides must be positive multiples of \(unet.factor)")
        }
        let latent = [c, hw[0], hw[1]]
        guard o.guidance.isFinite, o.guidance >= 0 else { throw LDMError.invalidArgument("guidance \(o.guidance) must be finite and >= 0") }
        let guided = o.guidance != 1
        var cond = try resolve(cond ?? Conditioning())
        var negative: Conditioning?
        if guided {
            guard let uncond else {
                throw LDMError.invalidArgument("guidance \(o.guidance) needs an unconditional conditioning (uncond)")
            }
            var u = try resolve(uncond)
            (u, cond) = try matchWindows(u, cond)
            try u.check(for: unet, latent: latent, side: "uncond")
            negative = u
        }
        try cond.check(for: unet, latent: latent, side: "cond")
        var start: (latent: Tensor, strength: Float)?
        if let initLatent {
            guard initLatent.shape == latent else {
                throw LDMError.shape("the initial latent is \(initLatent.shape), the sample \(latent)")
            }
            let x = try initLatent.copy()
            x.reshape([1] + latent)
            start = (x, o.strength)
        }

        let params = SamplerParams(kind: o.sampler, steps: o.steps, eta: o.eta, prediction: model.prediction, schedule: model.schedule)
        // [uncond, cond] as diffusers batches them; their context is the same at every step.
        let sides = negative.map { [$0, cond] } ?? [cond]
        ws.fixContext(try batchedContext(sides))
        defer { ws.forgetFixedContext() }
        let denoiser: Denoiser = { [self] x, t in
            let out = try denoise(unet, x, t, sides)  // guided: [2, C, h, w], uncond and cond
            guard negative != nil else { return out }
            let guidedOut = try Tensor(x.shape)
            let u = out.item(0), v = out.item(1), g = o.guidance
            for i in 0..<guidedOut.count { guidedOut.data[i] = u[i] + g * (v[i] - u[i]) }
            return guidedOut
        }
        let z = try runSampler(params, shape: [1] + latent, rng: &rng, start: start, denoiser: denoiser) { step, total in
            progress?(step, total) ?? true
        }
        z.reshape(latent)
        return z
    }

    /// A class label becomes the context of class-embedding models (cin256 style).
    private func resolve(_ c: Conditioning) throws -> Conditioning {
        guard let embedder = model.classEmbedder, let label = c.classLabel, c.context == nil else { return c }
        return Conditioning(context: try embedder.context(for: label), concat: c.concat, vector: c.vector)
    }

    /// The sides' contexts as one [N, tokens, dim] batch, or nil where they have none or
    /// differ in length (they are then run one by one).
    private func batchedContext(_ sides: [Conditioning]) throws -> Tensor? {
        guard let first = sides[0].context, sides.allSatisfy({ $0.context?.shape == first.shape }) else { return nil }
        let ctx = try Tensor([sides.count] + first.shape)
        for (i, s) in sides.enumerated() { ctx.item(i).update(from: s.context!.data, count: first.count) }
        return ctx
    }

    /// One UNet call for latent `x` [1, C, h, w] under each conditioning, batched when their
    /// contexts have the same length (as diffusers batches [uncond, cond]); [N, C, h, w] out.
    private func denoise(_ unet: UNet, _ x: Tensor, _ t: Float, _ sides: [Conditioning]) throws -> Tensor {
        let tokens = Set(sides.map { $0.context?.shape[0] ?? 0 })
        guard tokens.count == 1 || sides.count == 1 else {
            let parts = try sides.map { try denoise(unet, x, t, [$0]) }
            let out = try Tensor([parts.count] + Array(x.shape.dropFirst()))
            for (i, p) in parts.enumerated() { out.item(i).update(from: p.data, count: p.count) }
            return out
        }
        let n = sides.count
        var input = try Tensor([n] + Array(x.shape.dropFirst()))
        for i in 0..<n { input.item(i).update(from: x.data, count: x.count) }
        if let first = sides[0].concat {
            let extra = try Tensor([n] + first.shape)
            for (i, s) in sides.enumerated() { extra.item(i).update(from: (s.concat ?? first).data, count: first.count) }
            input = try concatChannels(input, extra)
        }
        let fixed = ws.fixedContext.flatMap { $0.shape[0] == n ? $0 : nil }
        let context = try fixed ?? batchedContext(sides)
        var vector: Tensor?
        if let first = sides[0].vector {
            let v = try Tensor([n, first.count])
            for (i, s) in sides.enumerated() { v.item(i).update(from: s.vector!.data, count: first.count) }
            vector = v
        }
        let labels = sides[0].classLabel == nil ? nil : sides.map { $0.classLabel! }
        return try unet(input, timesteps: [Float](repeating: t, count: n), context: context, classLabels: labels, vector: vector, ws: ws)
    }
}
