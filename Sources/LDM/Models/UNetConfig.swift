/// What the denoiser's tensors do not say, from metadata (a diffusers config.json, a CompVis
/// yaml through the converter) or Stable Diffusion's conventions.
public struct UNetConfig: Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var modelChannels: Int
    public var levels: Int
    public var numResBlocks: Int
    public var contextDim: Int?
    /// Class conditioning: label_emb as an Embedding table of this many classes...
    public var numClasses: Int?
    /// ...or as Linear layers on a vector of this width (SD2's "adm" noise-level input).
    public var admChannels: Int?
    /// Attention heads per level (the middle block uses the deepest level's).
    public var heads: [Int]
    public var groups: Int
    public var eps: Float
    public var flipSinToCos: Bool
    public var freqShift: Float

    public static let headsKey = "ldm.unet.heads"                // [Int] per level
    public static let headChannelsKey = "ldm.unet.head_channels" // Int: heads = channels / this
    public static let groupsKey = "ldm.unet.norm_groups"
    public static let epsKey = "ldm.unet.norm_eps"
    public static let flipKey = "ldm.unet.flip_sin_to_cos"
    public static let freqShiftKey = "ldm.unet.freq_shift"
    public static let sampleSizeKey = "ldm.unet.sample_size"    // the native latent side

    /// Heads for attention over `channels` at `level`.
    func heads(level: Int, channels: Int, metadata: [String: MetaValue]) throws -> Int {
        if let hc = metadata[Self.headChannelsKey]?.int {
            guard hc > 0, channels % hc == 0 else { throw LDMError.model("\(channels) channels do not split into heads of \(hc)") }
            return channels / hc
        }
        return heads[min(level, heads.count - 1)]
    }

    /// Heads when no metadata gives them: Stable Diffusion 1.x uses 8 heads, 2.x heads of 64
    /// channels (recognised by their 768- and 1024-wide contexts).
    static func defaultHeads(contextDim: Int?, levels: Int, channels: [Int]) -> [Int] {
        if contextDim == 1024 { return channels.map { max(1, $0 / 64) } }
        return [Int](repeating: 8, count: levels)
    }
}
