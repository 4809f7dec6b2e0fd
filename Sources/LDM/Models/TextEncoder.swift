/// The text encoder of a text-conditioned model (`cond_stage_model`): token ids -> context
/// [ids.count, width] for the UNet's cross-attention. One pre-LN transformer serves CLIP ViT-L/14
/// (SD1), OpenCLIP ViT-H (SD2) and the LDM's BERT-style encoder, in the naming families
/// TextEncoderNames lists; what the names cannot tell comes from metadata (keys below).
public final class TextEncoder {
    /// The naming family the weights came in, which also fixes the architecture's details.
    public enum Kind: Sendable {
        /// transformers CLIPTextModel names: causal, quick_gelu, last layer then final norm.
        case clip
        /// OpenCLIP names: causal, gelu, penultimate layer then ln_final (SD2).
        case openCLIP
        /// diffusers LDMBertModel names: no mask, gelu, 8 heads.
        case ldmBert
        /// CompVis BERTEmbedder (x-transformers) names: the same network as LDMBert.
        case bertEmbedder
    }

    public static let headsKey = "ldm.text.heads"          // Int; default width/64 (CLIP), 8 (BERT)
    public static let headDimKey = "ldm.text.head_dim"     // Int; checked against the weights
    public static let activationKey = "ldm.text.hidden_act" // "quick_gelu" or "gelu"
    public static let epsKey = "ldm.text.norm_eps"          // Double; default 1e-5

    public let kind: Kind
    public let width: Int
    /// Positions the encoder has: the most token ids one call takes.
    public let maxLength: Int
    public let vocabularySize: Int
    let tokenEmbedding: WeightTensor
    let positionEmbedding: WeightTensor
    /// The layers the reference runs (OpenCLIP's last one is not among them).
    let layers: [TextEncoderLayer]
    let finalNorm: LayerNormLayer

    /// Whether `w` (scoped at `cond_stage_model.`) holds a text encoder this class knows.
    public static func recognizes(_ w: WeightScope) -> Bool { TextEncoderNames.detect(w) != nil }

    public init(_ w: WeightScope, metadata: [String: MetaValue]) throws {
        guard let names = TextEncoderNames.detect(w) else {
            throw LDMError.unsupported("\(w.prefix)* is not a text encoder libldm knows (CLIP, OpenCLIP, LDMBert, BERTEmbedder)")
        }
        kind = names.kind
        let tokens = try w.tensor(names.tokenEmbedding), positions = try w.tensor(names.positionEmbedding)
        guard tokens.shape.count == 2, tokens.shape.allSatisfy({ $0 > 0 }) else {
            throw LDMError.model("\(tokens.name) has shape \(tokens.shape), not [vocabulary, width]")
        }
        let width = tokens.shape[1]
        guard positions.shape.count == 2, positions.shape[1] == width, positions.shape[0] > 0 else {
            throw LDMError.model("\(positions.name) has shape \(positions.shape), not [positions, \(width)]")
        }
        (tokenEmbedding, positionEmbedding) = (tokens, positions)
        (vocabularySize, self.width, maxLength) = (tokens.shape[0], width, positions.shape[0])

        let causal = names.kind == .clip || names.kind == .openCLIP
        let activation: Activation
        if let name = metadata[Self.activationKey]?.string {
            guard let a = Activation(rawValue: name) else { throw LDMError.unsupported("text encoder activation \(name) is not supported") }
            activation = a
        } else {
            activation = names.kind == .clip ? .quickGELU : .gelu
        }
        let heads: Int
        if let h = metadata[Self.headsKey]?.int {
            heads = h
        } else if causal {
            guard width % 64 == 0 else { throw LDMError.model("a \(width)-wide CLIP text encoder needs \(Self.headsKey)") }
            heads = width / 64
        } else {
            heads = 8
        }
        let eps = Float(metadata[Self.epsKey]?.double ?? 1e-5)

        let entries = try w.indices(names.layerList)
        // SD2 conditions on OpenCLIP's penultimate layer: the last one is never run.
        let count = entries / names.entriesPerLayer - (names.kind == .openCLIP ? 1 : 0)
        guard entries % names.entriesPerLayer == 0, count > 0 else {
            throw LDMError.model("\(w.prefix)\(names.layerList)N: \(entries) entries do not make the layers of a \(names.kind) encoder")
        }
        layers = try (0..<count).map {
            try TextEncoderLayer(w, names.layer($0), width: width, heads: heads, causal: causal, activation: activation, eps: eps)
        }
        if let d = metadata[Self.headDimKey]?.int, layers[0].inner / heads != d {
            throw LDMError.model("\(heads) heads of \(d) channels do not match the \(layers[0].inner) attention channels of \(w.prefix)")
        }
        finalNorm = try LayerNormLayer(w(names.finalNorm), n: width, eps: eps)
    }

    /// The context [ids.count, width] of 1...maxLength token ids. `clipSkip` leaves out that
    /// many more of the final layers before the final norm (popular UIs' "CLIP skip" N is
    /// clipSkip N-1; 0 is the reference).
    public func callAsFunction(_ ids: [Int], clipSkip: Int = 0, ws: Workspace) throws -> Tensor {
        guard !ids.isEmpty, ids.count <= maxLength else {
            throw LDMError.invalidArgument("\(ids.count) token ids: the text encoder takes 1 to \(maxLength)")
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= vocabularySize }) {
            throw LDMError.invalidArgument("token id \(bad) is outside the vocabulary 0..<\(vocabularySize)")
        }
        guard clipSkip >= 0, clipSkip < layers.count else {
            throw LDMError.invalidArgument("clip skip \(clipSkip) is outside 0..<\(layers.count)")
        }
        let t = ids.count
        let x = try Tensor([t, width]), positions = try Tensor([t, width])
        for (i, id) in ids.enumerated() { try tokenEmbedding.decode(id * width, width, into: x.data + i * width) }
        try positionEmbedding.decode(0, t * width, into: positions.data)
        addInPlace(x, positions, ws: ws)
        for layer in layers.dropLast(clipSkip) {
            try ws.checkCancelled()
            try layer(x, ws)
        }
        let y = try Tensor([t, width])
        finalNorm(x, into: y, ws)
        return y
    }
}
