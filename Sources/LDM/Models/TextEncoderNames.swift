/// Where each naming family keeps a text encoder's weights, relative to `cond_stage_model.`.
/// All four hold the same pre-LN transformer; only the names (and OpenCLIP's stacked q/k/v)
/// differ.
struct TextEncoderNames {
    /// The q, k and v projections: three Linears, or OpenCLIP's one stacked in_proj.
    enum QKV {
        case separate(q: String, k: String, v: String)
        case stacked(weight: String, bias: String)
    }

    /// One layer's weights, as scopes (and OpenCLIP's in_proj tensor names).
    struct Layer {
        let norm1: String, qkv: QKV, out: String
        let norm2: String, fc1: String, fc2: String
    }

    let kind: TextEncoder.Kind
    let tokenEmbedding: String
    let positionEmbedding: String
    let finalNorm: String
    /// The numbered list the layers live in, and how many entries one layer takes (two in
    /// x-transformers, which lists the attention and the feed-forward separately).
    let layerList: String
    let entriesPerLayer: Int
    let layer: (Int) -> Layer

    /// The family `w` holds, from its token embedding's name.
    static func detect(_ w: WeightScope) -> TextEncoderNames? {
        if w.has("transformer.text_model.embeddings.token_embedding.weight") { return clip("transformer.text_model.") }
        // transformers 5 saves CLIPTextModel without `text_model.`.
        if w.has("transformer.embeddings.token_embedding.weight") { return clip("transformer.") }
        if w.has("model.token_embedding.weight") { return openCLIP }
        if w.has("bert.model.embed_tokens.weight") { return ldmBert }
        if w.has("transformer.token_emb.weight") { return bertEmbedder }
        return nil
    }

    /// transformers CLIPTextModel (SD1 checkpoints, diffusers text_encoder folders).
    static func clip(_ root: String) -> TextEncoderNames {
        TextEncoderNames(kind: .clip, tokenEmbedding: root + "embeddings.token_embedding.weight",
                         positionEmbedding: root + "embeddings.position_embedding.weight", finalNorm: root + "final_layer_norm",
                         layerList: root + "encoder.layers.", entriesPerLayer: 1) { i in
            let p = root + "encoder.layers.\(i)."
            return Layer(norm1: p + "layer_norm1",
                         qkv: .separate(q: p + "self_attn.q_proj", k: p + "self_attn.k_proj", v: p + "self_attn.v_proj"),
                         out: p + "self_attn.out_proj", norm2: p + "layer_norm2", fc1: p + "mlp.fc1", fc2: p + "mlp.fc2")
        }
    }

    /// OpenCLIP's text tower (SD2 checkpoints' FrozenOpenCLIPEmbedder).
    static let openCLIP = TextEncoderNames(
        kind: .openCLIP, tokenEmbedding: "model.token_embedding.weight", positionEmbedding: "model.positional_embedding",
        finalNorm: "model.ln_final", layerList: "model.transformer.resblocks.", entriesPerLayer: 1) { i in
        let p = "model.transformer.resblocks.\(i)."
        return Layer(norm1: p + "ln_1", qkv: .stacked(weight: p + "attn.in_proj_weight", bias: p + "attn.in_proj_bias"),
                     out: p + "attn.out_proj", norm2: p + "ln_2", fc1: p + "mlp.c_fc", fc2: p + "mlp.c_proj")
    }

    /// diffusers' LDMBertModel (a text2img LDM pipeline's bert/ folder).
    static let ldmBert = TextEncoderNames(
        kind: .ldmBert, tokenEmbedding: "bert.model.embed_tokens.weight", positionEmbedding: "bert.model.embed_positions.weight",
        finalNorm: "bert.model.layer_norm", layerList: "bert.model.layers.", entriesPerLayer: 1) { i in
        let p = "bert.model.layers.\(i)."
        return Layer(norm1: p + "self_attn_layer_norm",
                     qkv: .separate(q: p + "self_attn.q_proj", k: p + "self_attn.k_proj", v: p + "self_attn.v_proj"),
                     out: p + "self_attn.out_proj", norm2: p + "final_layer_norm", fc1: p + "fc1", fc2: p + "fc2")
    }

    /// CompVis BERTEmbedder: x-transformers' TransformerWrapper around an Encoder, whose
    /// `layers` list holds [norm, block, residual] per entry, attention ('a') and feed-forward
    /// ('f') alternating; FeedForward.net is [[Linear, GELU], Dropout, Linear].
    static let bertEmbedder = TextEncoderNames(
        kind: .bertEmbedder, tokenEmbedding: "transformer.token_emb.weight", positionEmbedding: "transformer.pos_emb.emb.weight",
        finalNorm: "transformer.norm", layerList: "transformer.attn_layers.layers.", entriesPerLayer: 2) { i in
        let a = "transformer.attn_layers.layers.\(2 * i).", f = "transformer.attn_layers.layers.\(2 * i + 1)."
        return Layer(norm1: a + "0", qkv: .separate(q: a + "1.to_q", k: a + "1.to_k", v: a + "1.to_v"), out: a + "1.to_out",
                     norm2: f + "0", fc1: f + "1.net.0.0", fc2: f + "1.net.2")
    }
}
