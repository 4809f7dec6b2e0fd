/// The autoencoder's encoder: image [N, 3, H, W] -> moments [N, 2z or z, H/f, W/f].
struct AEEncoder {
    struct Level {
        var blocks: [AEResnetBlock]
        var attns: [AEAttnBlock]
        var down: Conv2dLayer?
    }

    let convIn: Conv2dLayer
    let levels: [Level]
    let mid1: AEResnetBlock, midAttn: AEAttnBlock?, mid2: AEResnetBlock
    let normOut: GroupNormLayer
    let convOut: Conv2dLayer

    init(_ w: WeightScope, _ c: AutoencoderConfig) throws {
        let ch = c.channels, g = c.groups
        convIn = try Conv2dLayer(w("conv_in"), in: c.inChannels, out: ch, kernel: 3)
        var levels = [Level]()
        var cin = ch
        for (i, m) in c.channelMult.enumerated() {
            let lw = w("down.\(i)")
            let cout = ch * m
            var level = Level(blocks: [], attns: [], down: nil)
            for j in 0..<c.numResBlocks {
                level.blocks.append(try AEResnetBlock(lw("block.\(j)"), in: cin, out: cout, groups: g))
                cin = cout
                if c.encoderAttnLevels.contains(i) {
                    level.attns.append(try AEAttnBlock(lw("attn.\(j)"), channels: cout, groups: g))
                }
            }
            if i != c.channelMult.count - 1 {
                // Pad right and bottom by one, then a stride-2 3x3 convolution without padding.
                level.down = try Conv2dLayer(lw("downsample.conv"), in: cout, out: cout, kernel: 3,
                                             geometry: ConvGeometry(kernel: 3, stride: 2, padTop: 0, padLeft: 0, padBottom: 1, padRight: 1))
            }
            levels.append(level)
        }
        self.levels = levels
        mid1 = try AEResnetBlock(w("mid.block_1"), in: cin, out: cin, groups: g)
        midAttn = c.midAttention ? try AEAttnBlock(w("mid.attn_1"), channels: cin, groups: g) : nil
        mid2 = try AEResnetBlock(w("mid.block_2"), in: cin, out: cin, groups: g)
        normOut = try GroupNormLayer(w("norm_out"), channels: cin, groups: g, eps: 1e-6)
        convOut = try Conv2dLayer(w("conv_out"), in: cin, out: c.kind == .kl ? 2 * c.zChannels : c.zChannels, kernel: 3)
    }

    func callAsFunction(_ x: Tensor, _ ws: Workspace) throws -> Tensor {
        var h = try convIn(x, ws)
        for (i, level) in levels.enumerated() {
            for (j, block) in level.blocks.enumerated() {
                try ws.checkCancelled()
                h = try block(h, ws)
                if !level.attns.isEmpty { h = try level.attns[j](h, ws) }
            }
            if let down = level.down {
                h = try down(h, ws)
                // The levels below make no tensor larger than h with their widest channel count:
                // pooled buffers of more than twice that would serve none, only raise the peak.
                let widest = levels[(i + 1)...].flatMap(\.blocks).map(\.conv2.outChannels).max() ?? 0
                TensorPool.dropLarger(than: 2 * h.count / h.shape[1] * max(widest, h.shape[1]) * MemoryLayout<Float>.size)
            }
        }
        h = try mid1(h, ws)
        if let midAttn { h = try midAttn(h, ws) }
        h = try mid2(h, ws)
        return try convOut(h, map: normOut.map(h, silu: true, ws), ws)
    }
}
