/// The autoencoder's decoder: z [N, z, h, w] -> image [N, 3, h*f, w*f]. Level i is stored
/// as `up.i`, and runs from the deepest level up.
struct AEDecoder {
    struct Level {
        var blocks: [AEResnetBlock]
        var attns: [AEAttnBlock]
        var up: Conv2dLayer?
    }

    let convIn: Conv2dLayer
    let mid1: AEResnetBlock, midAttn: AEAttnBlock?, mid2: AEResnetBlock
    /// Deepest level first, in execution order.
    let levels: [Level]
    let normOut: GroupNormLayer
    let convOut: Conv2dLayer

    init(_ w: WeightScope, _ c: AutoencoderConfig) throws {
        let ch = c.channels, g = c.groups
        var cin = ch * c.channelMult.last!
        convIn = try Conv2dLayer(w("conv_in"), in: c.zChannels, out: cin, kernel: 3)
        mid1 = try AEResnetBlock(w("mid.block_1"), in: cin, out: cin, groups: g)
        midAttn = c.midAttention ? try AEAttnBlock(w("mid.attn_1"), channels: cin, groups: g) : nil
        mid2 = try AEResnetBlock(w("mid.block_2"), in: cin, out: cin, groups: g)
        var levels = [Level]()
        for i in c.channelMult.indices.reversed() {
            let lw = w("up.\(i)")
            let cout = ch * c.channelMult[i]
            var level = Level(blocks: [], attns: [], up: nil)
            for j in 0...c.numResBlocks {
                level.blocks.append(try AEResnetBlock(lw("block.\(j)"), in: cin, out: cout, groups: g))
                cin = cout
                if c.decoderAttnLevels.contains(i) {
                    level.attns.append(try AEAttnBlock(lw("attn.\(j)"), channels: cout, groups: g))
                }
            }
            if i != 0 { level.up = try Conv2dLayer(lw("upsample.conv"), in: cout, out: cout, kernel: 3) }
            levels.append(level)
        }
        self.levels = levels
        normOut = try GroupNormLayer(w("norm_out"), channels: cin, groups: g, eps: 1e-6)
        convOut = try Conv2dLayer(w("conv_out"), in: cin, out: c.outChannels, kernel: 3)
    }

    func callAsFunction(_ z: Tensor, _ ws: Workspace) throws -> Tensor {
        var h = try convIn(z, ws)
        h = try mid1(h, ws)
        if let midAttn { h = try midAttn(h, ws) }
        h = try mid2(h, ws)
        for level in levels {
            // Each level halves the channels of the last and quadruples the pixels: scratch
            // sized for the deeper levels' wide filters is given back before the largest
            // activations arrive.
            ws.scratch.release()
            for (j, block) in level.blocks.enumerated() {
                try ws.checkCancelled()
                h = try block(h, ws)
                if !level.attns.isEmpty { h = try level.attns[j](h, ws) }
            }
            // The upsampler's input goes as it is read: it and the 4x larger output are never
            // both whole.
            if let up = level.up { h = try up(h, map: InputMap(upsample: true), consumed: h.dropAsConsumed(), ws) }
        }
        return try convOut(h, map: normOut.map(h, silu: true, ws), ws)
    }
}
