/// A loaded model: its mapped weights and the components found in them. Immutable after
/// loading, so any number of contexts on any threads may share it.
public final class Model {
    public let path: String
    public let store: TensorStore
    public let autoencoder: Autoencoder?
    public let unet: UNet?
    public let textEncoder: TextEncoder?
    public let tokenizer: Tokenizer?
    public let classEmbedder: ClassEmbedder?
    /// The training noise schedule and what the UNet predicts, for its samplers.
    public let schedule: NoiseSchedule
    public let prediction: Prediction

    public init(path: String) throws {
        self.path = path
        store = try ModelLoader.load(path)
        let ae = WeightScope(store: store, prefix: ModelLoader.prefixes[.autoencoder]!)
        autoencoder = ae.has("encoder.conv_in.weight") || ae.has("decoder.conv_in.weight")
            ? try Autoencoder(ae, metadata: store.metadata, scaleTensor: store.tensors["scale_factor"]) : nil
        let un = WeightScope(store: store, prefix: ModelLoader.prefixes[.unet]!)
        unet = un.has("input_blocks.0.0.weight") ? try UNet(un, metadata: store.metadata) : nil
        let cond = WeightScope(store: store, prefix: ModelLoader.textEncoderPrefix)
        classEmbedder = cond.has("embedding.weight") ? try ClassEmbedder(cond) : nil
        let encoder = TextEncoder.recognizes(cond) ? try TextEncoder(cond, metadata: store.metadata) : nil
        textEncoder = encoder
        tokenizer = try encoder.flatMap { [store] in try TokenizerLoader.load(store, modelPath: path, maxLength: $0.maxLength) }
        schedule = try Self.schedule(store)
        guard let p = Prediction(rawValue: store.metadata["ldm.prediction_type"]?.string ?? "epsilon") else {
            throw LDMError.unsupported("\(path): prediction type \(store.metadata["ldm.prediction_type"]?.string ?? "") is not supported")
        }
        prediction = p
        guard autoencoder != nil || unet != nil || textEncoder != nil else {
            throw LDMError.model("\(path) holds no component libldm knows (no autoencoder, UNet or text encoder)")
        }
        if let c = autoencoder?.config {
            Log.write(.info, "\(path): \(c.kind == .kl ? "KL" : "VQ") autoencoder, f\(c.downsampleFactor), z=\(c.embedDim), ch=\(c.channels) x \(c.channelMult), scale \(c.scaleFactor), \(store.dominantType)")
        }
        if let c = unet?.config {
            Log.write(.info, "\(path): UNet, \(c.inChannels)->\(c.outChannels) channels, \(c.levels) levels of \(c.numResBlocks) blocks, model channels \(c.modelChannels), heads \(c.heads), context \(c.contextDim.map(String.init) ?? "none")")
        }
    }

    /// Schedule buffers stored in a checkpoint come first, then a pipeline's scheduler config,
    /// then Stable Diffusion's schedule (CompVis "linear" 0.00085 ... 0.012 over 1000 steps).
    static func schedule(_ store: TensorStore) throws -> NoiseSchedule {
        if let t = store.tensors["alphas_cumprod"] { return try NoiseSchedule(alphasCumprod: try t.floats()) }
        if let t = store.tensors["betas"] { return try NoiseSchedule(betas: try t.floats()) }
        let m = store.metadata
        if let betas = m["ldm.schedule.betas"]?.array?.compactMap(\.double), !betas.isEmpty {
            return try NoiseSchedule(betas: betas.map { Float($0) })
        }
        let t = m["ldm.schedule.timesteps"]?.int ?? 1000
        let start = m["ldm.schedule.beta_start"]?.double, end = m["ldm.schedule.beta_end"]?.double
        switch m["ldm.schedule.beta_schedule"]?.string ?? "scaled_linear" {
        case "scaled_linear": return try .scaledLinear(betaStart: start ?? 0.00085, betaEnd: end ?? 0.012, timesteps: t)
        case "linear": return try .linear(betaStart: start ?? 0.0001, betaEnd: end ?? 0.02, timesteps: t)
        case "squaredcos_cap_v2": return try .cosine(timesteps: t)
        case let other: throw LDMError.unsupported("beta schedule \(other) is not supported")
        }
    }

    /// The latent [h, w] the model was trained at, when its config says.
    public var nativeLatentSize: [Int]? {
        guard let s = store.metadata[UNetConfig.sampleSizeKey]?.int, s > 0 else { return nil }
        return [s, s]
    }

    func requireAutoencoder() throws -> Autoencoder {
        guard let autoencoder else { throw LDMError.model("\(path) has no autoencoder") }
        return autoencoder
    }
}
