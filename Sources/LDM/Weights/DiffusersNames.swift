/// diffusers renames every checkpoint key; these map its names back to the CompVis names the
/// models are written against.
enum DiffusersNames {
    /// An AutoencoderKL / VQModel key -> CompVis `encoder.*`, `decoder.*`, ... key.
    /// `upBlocks` is the decoder's number of levels (diffusers numbers them in reverse).
    static func autoencoder(_ key: String, upBlocks: Int) -> String {
        var p = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard p.count >= 2, p[0] == "encoder" || p[0] == "decoder" else { return key }
        var out = [p[0]]
        p.removeFirst()
        switch p[0] {
        case "down_blocks", "up_blocks":
            guard p.count >= 3, let i = Int(p[1]) else { return key }
            let level = p[0] == "down_blocks" ? i : upBlocks - 1 - i
            out += [p[0] == "down_blocks" ? "down" : "up", String(level)]
            p.removeFirst(2)
            switch p[0] {
            case "resnets" where p.count >= 2: out += ["block", p[1]] + resnet(Array(p.dropFirst(2)))
            case "attentions" where p.count >= 2: out += ["attn", p[1]] + legacyAttention(Array(p.dropFirst(2)))
            case "downsamplers" where p.count >= 2: out += ["downsample"] + p.dropFirst(2)
            case "upsamplers" where p.count >= 2: out += ["upsample"] + p.dropFirst(2)
            default: return key
            }
        case "mid_block":
            guard p.count >= 3 else { return key }
            switch (p[1], p[2]) {
            case ("resnets", "0"): out += ["mid", "block_1"] + resnet(Array(p.dropFirst(3)))
            case ("resnets", "1"): out += ["mid", "block_2"] + resnet(Array(p.dropFirst(3)))
            case ("attentions", "0"): out += ["mid", "attn_1"] + legacyAttention(Array(p.dropFirst(3)))
            default: return key
            }
        case "conv_norm_out": out += ["norm_out"] + p.dropFirst()
        default: out += p
        }
        return out.joined(separator: ".")
    }

    private static func resnet(_ rest: [String]) -> [String] {
        rest.first == "conv_shortcut" ? ["nin_shortcut"] + rest.dropFirst() : rest
    }

    static func legacyAttention(_ rest: [String]) -> [String] {
        guard let head = rest.first else { return rest }
        let renamed: [String: String] = [
            "group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v",
            "query": "q", "key": "k", "value": "v", "proj_attn": "proj_out",
        ]
        if head == "to_out", rest.count >= 2, rest[1] == "0" { return ["proj_out"] + rest.dropFirst(2) }
        return [renamed[head] ?? head] + rest.dropFirst()
    }

    /// The number of decoder levels in a diffusers autoencoder's key set.
    static func upBlockCount<S: Sequence>(_ keys: S) -> Int where S.Element == String {
        var n = 0
        for k in keys where k.hasPrefix("decoder.up_blocks.") {
            if let i = Int(k.dropFirst("decoder.up_blocks.".count).prefix { $0 != "." }) { n = max(n, i + 1) }
        }
        return n
    }
}
