/// Reads what a diffusers config.json says that tensor shapes cannot (norm groups, heads,
/// timestep features, schedules) into the store's metadata under ldm.* keys, and refuses the
/// block types libldm does not implement rather than running them wrongly.
enum DiffusersConfig {
    static func apply(_ role: ModelLoader.Role, _ config: MetaValue, what: String, into store: TensorStore) throws {
        switch role {
        case .autoencoder: try autoencoder(config, what, store)
        case .unet: try unet(config, what, store)
        case .scheduler: scheduler(config, store)
        case .clipText, .bert: textEncoder(config, store)
        case .tokenizer: break
        }
    }

    private static func require(_ config: MetaValue, _ key: String, in allowed: [String], _ what: String) throws {
        for type in config[key]?.strings ?? [] where !allowed.contains(type) {
            throw LDMError.unsupported("\(what): \(key) entry \(type) is not supported")
        }
    }

    private static func autoencoder(_ config: MetaValue, _ what: String, _ store: TensorStore) throws {
        let blocks = ["DownEncoderBlock2D", "UpDecoderBlock2D", "AttnDownEncoderBlock2D", "AttnUpDecoderBlock2D"]
        try require(config, "down_block_types", in: blocks, what)
        try require(config, "up_block_types", in: blocks, what)
        if config["norm_type"]?.string == "spatial" {
            throw LDMError.unsupported("\(what): spatially normalised (MoVQ) decoders are not supported")
        }
        if let g = config["norm_num_groups"]?.int { store.metadata[AutoencoderConfig.groupsKey] = .int(g) }
        if let s = config["scaling_factor"]?.double { store.metadata[AutoencoderConfig.scaleKey] = .double(s) }
    }

    private static func unet(_ config: MetaValue, _ what: String, _ store: TensorStore) throws {
        let conditional = config["_class_name"]?.string == "UNet2DConditionModel"
        try require(config, "down_block_types", in: ["CrossAttnDownBlock2D", "DownBlock2D", "AttnDownBlock2D", "ResnetDownsampleBlock2D"], what)
        try require(config, "up_block_types", in: ["CrossAttnUpBlock2D", "UpBlock2D", "AttnUpBlock2D", "ResnetUpsampleBlock2D"], what)
        for (key, ok) in [("time_embedding_type", ["positional"]), ("class_embed_type", []), ("addition_embed_type", []),
                          ("encoder_hid_dim_type", []), ("mid_block_type", ["UNetMidBlock2DCrossAttn", "UNetMidBlock2D"])] {
            if let v = config[key]?.string, !ok.contains(v) { throw LDMError.unsupported("\(what): \(key) \(v) is not supported") }
        }
        for key in ["only_cross_attention", "dual_cross_attention"] {
            let flags = config[key].flatMap { $0.bool.map { [$0] } ?? $0.array?.compactMap(\.bool) } ?? []
            if flags.contains(true) { throw LDMError.unsupported("\(what): \(key) is not supported") }
        }
        let levels = config["block_out_channels"]?.array?.count ?? 1
        if conditional {
            // diffusers' attention_head_dim means the number of heads here (its SD configs say so).
            let heads = config["num_attention_heads"].flatMap(perLevel) ?? config["attention_head_dim"].flatMap(perLevel)
            if let heads { store.metadata[UNetConfig.headsKey] = .array(expand(heads, levels).map { .int($0) }) }
        } else if let dh = config["attention_head_dim"] {
            // UNet2DModel: channels per head; null means one head.
            if let d = dh.int { store.metadata[UNetConfig.headChannelsKey] = .int(d) }
            else { store.metadata[UNetConfig.headsKey] = .array(expand([1], levels).map { .int($0) }) }
        }
        if let g = config["norm_num_groups"]?.int { store.metadata[UNetConfig.groupsKey] = .int(g) }
        if let e = config["norm_eps"]?.double { store.metadata[UNetConfig.epsKey] = .double(e) }
        if let f = config["flip_sin_to_cos"]?.bool { store.metadata[UNetConfig.flipKey] = .bool(f) }
        if let s = config["freq_shift"]?.double { store.metadata[UNetConfig.freqShiftKey] = .double(s) }
        if let s = config["sample_size"]?.int ?? config["sample_size"]?.ints?.first { store.metadata[UNetConfig.sampleSizeKey] = .int(s) }
    }

    /// A transformers text encoder config: what the weights cannot tell.
    private static func textEncoder(_ config: MetaValue, _ store: TensorStore) {
        if let h = config["num_attention_heads"]?.int ?? config["encoder_attention_heads"]?.int {
            store.metadata["ldm.text.heads"] = .int(h)
        }
        if let d = config["head_dim"]?.int { store.metadata["ldm.text.head_dim"] = .int(d) }
        if let a = config["hidden_act"]?.string ?? config["activation_function"]?.string { store.metadata["ldm.text.hidden_act"] = .string(a) }
        if let e = config["layer_norm_eps"]?.double { store.metadata["ldm.text.norm_eps"] = .double(e) }
    }

    private static func perLevel(_ v: MetaValue) -> [Int]? { v.int.map { [$0] } ?? v.ints }

    private static func expand(_ v: [Int], _ levels: Int) -> [Int] { v.count == 1 ? [Int](repeating: v[0], count: levels) : v }

    /// Scheduler settings of a pipeline: the training schedule and what the model predicts.
    private static func scheduler(_ config: MetaValue, _ store: TensorStore) {
        for (from, to) in [("beta_schedule", "ldm.schedule.beta_schedule"), ("beta_start", "ldm.schedule.beta_start"),
                           ("beta_end", "ldm.schedule.beta_end"), ("num_train_timesteps", "ldm.schedule.timesteps"),
                           ("trained_betas", "ldm.schedule.betas"), ("prediction_type", "ldm.prediction_type")] {
            if let v = config[from], v != .null { store.metadata[to] = v }
        }
    }
}
