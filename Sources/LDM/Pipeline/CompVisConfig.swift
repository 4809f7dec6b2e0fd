/// Reads a CompVis / Stable Diffusion yaml config (kept by the converter as JSON under
/// ldm.config.compvis: the `model` section) into the same metadata keys diffusers configs
/// fill: parameterization, schedule, scale factor, native size, attention heads.
enum CompVisConfig {
    static let key = "ldm.config.compvis"

    static func apply(_ config: MetaValue, what: String, into store: TensorStore) throws {
        let p = config["params"] ?? config
        var m = [String: MetaValue]()
        if let kind = p["parameterization"]?.string {
            let map = ["eps": "epsilon", "x0": "sample", "v": "v_prediction"]
            guard let pred = map[kind] else { throw LDMError.unsupported("\(what): parameterization \(kind) is not supported") }
            m["ldm.prediction_type"] = .string(pred)
        }
        // CompVis "linear" is linear in sqrt(beta): diffusers' scaled_linear.
        let schedules = ["linear": "scaled_linear", "sqrt_linear": "linear", "cosine": "squaredcos_cap_v2"]
        let schedule = p["beta_schedule"]?.string ?? "linear"
        guard let s = schedules[schedule] else { throw LDMError.unsupported("\(what): beta schedule \(schedule) is not supported") }
        m["ldm.schedule.beta_schedule"] = .string(s)
        if let v = p["linear_start"] { m["ldm.schedule.beta_start"] = v }
        if let v = p["linear_end"] { m["ldm.schedule.beta_end"] = v }
        if let v = p["timesteps"] { m["ldm.schedule.timesteps"] = v }
        if let v = p["scale_factor"] { m[AutoencoderConfig.scaleKey] = v }
        let unet = p["unet_config"]?["params"]
        if let size = unet?["image_size"]?.int ?? p["image_size"]?.int { m[UNetConfig.sampleSizeKey] = .int(size) }
        if let hc = unet?["num_head_channels"]?.int, hc > 0 {
            m[UNetConfig.headChannelsKey] = .int(hc)
        } else if let h = unet?["num_heads"]?.int, h > 0 {
            let levels = unet?["channel_mult"]?.array?.count ?? 1
            m[UNetConfig.headsKey] = .array([MetaValue](repeating: .int(h), count: levels))
        }
        // Values a diffusers config already set (a converted diffusers folder) win.
        store.metadata.merge(m) { existing, _ in existing }
    }
}
