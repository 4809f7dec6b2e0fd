extension DiffusersNames {
    /// What renaming a diffusers UNet needs to know about its key set.
    struct UNetLayout {
        /// Resnets per down block (layers_per_block); up blocks have one more.
        var resnetsPerDown: Int
        /// Up blocks with attention: their upsampler sits after it, at index 2 instead of 1.
        var upBlocksWithAttention: Set<Int>

        init<S: Sequence>(_ keys: S) where S.Element == String {
            var resnets = Set<Int>(), attn = Set<Int>()
            for k in keys {
                let p = k.split(separator: ".")
                if p.count > 3, p[0] == "down_blocks", p[1] == "0", p[2] == "resnets", let i = Int(p[3]) { resnets.insert(i) }
                if p.count > 2, p[0] == "up_blocks", p[2] == "attentions", let b = Int(p[1]) { attn.insert(b) }
            }
            resnetsPerDown = resnets.count
            upBlocksWithAttention = attn
        }
    }

    /// A UNet2DConditionModel / UNet2DModel key -> CompVis `model.diffusion_model` key.
    static func unet(_ key: String, _ layout: UNetLayout) -> String {
        let p = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let n = layout.resnetsPerDown
        func block(_ kind: String, _ b: Int, _ rest: ArraySlice<String>) -> [String]? {
            guard rest.count >= 2 else { return nil }
            let down = kind == "down_blocks"
            let base = down ? 1 + b * (n + 1) : b * (n + 1)
            let blocks = down ? "input_blocks" : "output_blocks"
            switch rest.first! {
            case "resnets":
                guard let l = Int(rest[rest.startIndex + 1]) else { return nil }
                return [blocks, String(base + l), "0"] + unetResnet(rest.dropFirst(2))
            case "attentions":
                guard let l = Int(rest[rest.startIndex + 1]) else { return nil }
                return [blocks, String(base + l), "1"] + unetAttention(rest.dropFirst(2))
            case "downsamplers", "upsamplers":
                let slot = down ? [blocks, String(base + n), "0"]
                    : [blocks, String(base + n), layout.upBlocksWithAttention.contains(b) ? "2" : "1"]
                let inner = rest.dropFirst(2)
                if inner.first == "conv" { return slot + [down ? "op" : "conv"] + inner.dropFirst() }
                return slot + unetResnet(inner)  // resblock_updown: a resnet that resamples
            default:
                return nil
            }
        }
        var out: [String]?
        switch p.first {
        case "conv_in": out = ["input_blocks", "0", "0"] + p.dropFirst()
        case "conv_norm_out": out = ["out", "0"] + p.dropFirst()
        case "conv_out": out = ["out", "2"] + p.dropFirst()
        case "time_embedding":
            if p.count > 1 { out = ["time_embed", p[1] == "linear_1" ? "0" : "2"] + p.dropFirst(2) }
        case "class_embedding":
            if p.count == 2 { out = ["label_emb"] + p.dropFirst() }
            else if p.count > 1 { out = ["label_emb", "0", p[1] == "linear_1" ? "0" : "2"] + p.dropFirst(2) }
        case "down_blocks", "up_blocks":
            if p.count > 2, let b = Int(p[1]) { out = block(p[0], b, p.dropFirst(2)) }
        case "mid_block":
            if p.count > 2 {
                switch (p[1], p[2]) {
                case ("resnets", "0"): out = ["middle_block", "0"] + unetResnet(p.dropFirst(3))
                case ("attentions", "0"): out = ["middle_block", "1"] + unetAttention(p.dropFirst(3))
                case ("resnets", "1"): out = ["middle_block", "2"] + unetResnet(p.dropFirst(3))
                default: break
                }
            }
        default: break
        }
        return out?.joined(separator: ".") ?? key
    }

    private static func unetResnet(_ rest: ArraySlice<String>) -> [String] {
        let renamed = ["norm1": ["in_layers", "0"], "conv1": ["in_layers", "2"], "time_emb_proj": ["emb_layers", "1"],
                       "norm2": ["out_layers", "0"], "conv2": ["out_layers", "3"], "conv_shortcut": ["skip_connection"]]
        guard let head = rest.first, let to = renamed[head] else { return Array(rest) }
        return to + rest.dropFirst()
    }

    /// Transformer2DModel keys keep their names; the legacy attention of UNet2DModel is
    /// renamed as the autoencoder's is.
    private static func unetAttention(_ rest: ArraySlice<String>) -> [String] {
        guard let head = rest.first, !["norm", "proj_in", "proj_out", "transformer_blocks"].contains(head) else { return Array(rest) }
        return legacyAttention(Array(rest))
    }
}
