/// The first-stage autoencoder's architecture, inferred from its tensors (CompVis names under
/// `first_stage_model.`) plus metadata for what shapes cannot tell.
public struct AutoencoderConfig: Equatable {
    public enum Kind: Equatable { case kl, vq }

    public var kind: Kind
    public var inChannels: Int
    public var channels: Int
    public var channelMult: [Int]
    public var numResBlocks: Int
    /// Levels (0 = full resolution) whose blocks are followed by attention, per side.
    public var encoderAttnLevels: Set<Int>
    public var decoderAttnLevels: Set<Int>
    public var midAttention: Bool
    public var zChannels: Int
    public var embedDim: Int
    /// diffusers can drop either 1x1 convolution around the latent (use_quant_conv,
    /// use_post_quant_conv), so each is optional on its own.
    public var hasQuantConv: Bool
    public var hasPostQuantConv: Bool
    public var codebookSize: Int
    public var outChannels: Int
    public var groups: Int
    public var scaleFactor: Float

    public var downsampleFactor: Int { 1 << (channelMult.count - 1) }

    /// Metadata keys (GGUF, or translated from a diffusers config.json).
    public static let groupsKey = "ldm.vae.norm_groups"
    public static let scaleKey = "ldm.vae.scale_factor"

    static func infer(_ w: WeightScope, metadata: [String: MetaValue], scaleTensor: WeightTensor?) throws -> AutoencoderConfig {
        let convIn = try w.tensor("encoder.conv_in.weight")
        guard convIn.shape.count == 4 else { throw LDMError.model("encoder.conv_in.weight is not a convolution") }
        let ch = convIn.shape[0]
        let levels = try w.indices("encoder.down.")
        let blocks = try w.indices("encoder.down.0.block.")
        guard levels >= 1, levels <= 8, blocks >= 1, ch > 0 else {
            throw LDMError.model("the encoder has \(levels) levels of \(blocks) blocks (1 to 8 levels expected)")
        }
        var mult = [Int]()
        for i in 0..<levels {
            let out = try w.tensor("encoder.down.\(i).block.0.conv1.weight").shape[0]
            guard out % ch == 0 else { throw LDMError.model("encoder level \(i) has \(out) channels, not a multiple of \(ch)") }
            mult.append(out / ch)
        }
        let encAttn = Set((0..<levels).filter { w.has("encoder.down.\($0).attn.0.q.weight") })
        let decAttn = Set((0..<levels).filter { w.has("decoder.up.\($0).attn.0.q.weight") })
        let z = try w.tensor("decoder.conv_in.weight").shape[1]
        let encOut = try w.tensor("encoder.conv_out.weight").shape[0]
        let isVQ = w.has("quantize.embedding.weight")
        guard encOut == (isVQ ? z : 2 * z) else {
            throw LDMError.model("encoder.conv_out has \(encOut) channels for a latent of \(z)")
        }
        let hasQuant = w.has("quant_conv.weight"), hasPostQuant = w.has("post_quant_conv.weight")
        let embed = hasQuant ? try w.tensor("quant_conv.weight").shape[0] / (isVQ ? 1 : 2)
            : hasPostQuant ? try w.tensor("post_quant_conv.weight").shape[1] : z
        var codebook = 0
        if isVQ {
            let e = try w.tensor("quantize.embedding.weight")
            guard e.shape.count == 2, e.shape[1] == embed, e.shape[0] > 0 else {
                throw LDMError.model("quantize.embedding.weight has shape \(e.shape), expected [n, \(embed)]")
            }
            codebook = e.shape[0]
        }

        let groups = metadata[groupsKey]?.int ?? 32
        var scale: Float
        if let s = metadata[scaleKey]?.double {
            scale = Float(s)
        } else if let t = scaleTensor, t.count == 1 {
            scale = try t.floats()[0]
        } else {
            // Stable Diffusion's and the LDM zoo's KL-f8 use 0.18215; VQ-based LDMs use 1.
            scale = !isVQ && z == 4 && levels == 4 ? 0.18215 : 1
        }
        guard scale.isFinite, scale != 0 else { throw LDMError.model("scale factor \(scale) is unusable") }
        return AutoencoderConfig(
            kind: isVQ ? .vq : .kl, inChannels: convIn.shape[1], channels: ch, channelMult: mult, numResBlocks: blocks,
            encoderAttnLevels: encAttn, decoderAttnLevels: decAttn, midAttention: w.has("encoder.mid.attn_1.q.weight"),
            zChannels: z, embedDim: embed, hasQuantConv: hasQuant, hasPostQuantConv: hasPostQuant, codebookSize: codebook,
            outChannels: try w.tensor("decoder.conv_out.weight").shape[0], groups: groups, scaleFactor: scale)
    }
}
