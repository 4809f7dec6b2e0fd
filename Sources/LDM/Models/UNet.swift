/// The denoiser: CompVis openaimodel's UNetModel, read from `model.diffusion_model.*`
/// tensors. Its blocks are found from the tensor names (any depth, width, attention type,
/// resblock_updown, scale-shift norm, class or vector conditioning, extra input channels).
public final class UNet {
    enum Module {
        case res(UNetResBlock)
        case transformer(SpatialTransformer)
        case attention(LegacyAttention)
        case down(Conv2dLayer)
        case up(Conv2dLayer)
    }

    public let config: UNetConfig
    let timeIn: LinearLayer, timeOut: LinearLayer
    let inConv: Conv2dLayer
    let labelTable: WeightTensor?
    let labelIn: LinearLayer?, labelOut: LinearLayer?
    let inputBlocks: [[Module]]
    let middle: [Module]
    let outputBlocks: [[Module]]
    let outNorm: GroupNormLayer, outConv: Conv2dLayer

    public init(_ w: WeightScope, metadata: [String: MetaValue]) throws {
        let convIn = try w.tensor("input_blocks.0.0.weight")
        guard convIn.shape.count == 4, convIn.shape[0] > 0 else { throw LDMError.model("input_blocks.0.0 is not a convolution") }
        let mc = convIn.shape[0]
        inConv = try Conv2dLayer(w("input_blocks.0.0"), in: convIn.shape[1], out: mc, kernel: 3)
        timeIn = try LinearLayer(w("time_embed.0"), in: mc)
        let embDim = timeIn.outFeatures
        timeOut = try LinearLayer(w("time_embed.2"), in: embDim, out: embDim)
        if w.has("label_emb.weight") {
            let t = try w.tensor("label_emb.weight")
            guard t.shape.count == 2, t.shape[1] == embDim else { throw LDMError.model("label_emb.weight has shape \(t.shape)") }
            labelTable = t
            (labelIn, labelOut) = (nil, nil)
        } else if w.has("label_emb.0.0.weight") {
            labelTable = nil
            labelIn = try LinearLayer(w("label_emb.0.0"))
            labelOut = try LinearLayer(w("label_emb.0.2"), in: labelIn!.outFeatures, out: embDim)
        } else {
            (labelTable, labelIn, labelOut) = (nil, nil, nil)
        }

        // Levels and blocks per level from the output side, where every level but the last
        // ends in an upsampler: L levels of numResBlocks+1 blocks each.
        let outputCount = try w.indices("output_blocks.")
        let inputCount = try w.indices("input_blocks.")
        let ups = (0..<outputCount).filter { i in (1...2).contains { Self.isUpsampler(w("output_blocks.\(i).\($0)")) } }
        let levels = ups.count + 1
        guard levels <= 8, outputCount % levels == 0, outputCount / levels >= 2, inputCount == outputCount else {
            throw LDMError.model("\(inputCount) input and \(outputCount) output blocks do not form a UNet")
        }
        let perLevel = outputCount / levels
        guard ups == (0..<(levels - 1)).map({ $0 * perLevel + perLevel - 1 }) else {
            throw LDMError.model("the UNet's upsamplers are not at the ends of its levels")
        }
        let contextDim = w.first(endingWith: ".attn2.to_k.weight")?.shape[1]
        let groups = metadata[UNetConfig.groupsKey]?.int ?? 32
        let eps = Float(metadata[UNetConfig.epsKey]?.double ?? 1e-5)
        var levelChannels = [Int]()
        for l in 0..<levels {
            levelChannels.append(try w.tensor("input_blocks.\(1 + l * perLevel).0.in_layers.2.weight").shape[0])
        }
        var heads = metadata[UNetConfig.headsKey]?.ints ?? UNetConfig.defaultHeads(contextDim: contextDim, levels: levels, channels: levelChannels)
        if heads.count == 1 { heads = [Int](repeating: heads[0], count: levels) }
        guard heads.count == levels, heads.allSatisfy({ $0 > 0 }) else { throw LDMError.model("\(heads.count) head counts for \(levels) levels") }
        let config = UNetConfig(
            inChannels: convIn.shape[1], outChannels: try w.tensor("out.2.weight").shape[0], modelChannels: mc,
            levels: levels, numResBlocks: perLevel - 1, contextDim: contextDim,
            numClasses: labelTable?.shape[0], admChannels: labelIn?.inFeatures, heads: heads, groups: groups, eps: eps,
            flipSinToCos: metadata[UNetConfig.flipKey]?.bool ?? true, freqShift: Float(metadata[UNetConfig.freqShiftKey]?.double ?? 0))
        self.config = config

        func modules(_ prefix: String, level: Int, channels: inout Int, resample: UNetResBlock.Resample?) throws -> [Module] {
            var out = [Module]()
            for j in 0..<(try w.indices(prefix + ".")) {
                let m = w("\(prefix).\(j)")
                if m.has("in_layers.0.weight") {
                    // resblock_updown: the lone resblock of an input block at a level's end
                    // downsamples; a resblock after an output block's first module upsamples.
                    let r = try UNetResBlock(m, in: channels, embDim: embDim, groups: groups, eps: eps,
                                             resample: resample == .down || j > 0 ? resample : nil)
                    channels = r.outChannels
                    out.append(.res(r))
                } else if m.has("proj_in.weight") {
                    let h = try config.heads(level: level, channels: channels, metadata: metadata)
                    out.append(.transformer(try SpatialTransformer(m, channels: channels, contextDim: contextDim, heads: h, groups: groups)))
                } else if m.has("qkv.weight") || m.has("q.weight") {
                    let h = try config.heads(level: level, channels: channels, metadata: metadata)
                    out.append(.attention(try LegacyAttention(m, channels: channels, heads: h, groups: groups, eps: eps)))
                } else if m.has("op.weight") {
                    out.append(.down(try Conv2dLayer(m("op"), in: channels, out: channels, kernel: 3, geometry: ConvGeometry(kernel: 3, stride: 2, pad: 1))))
                } else if m.has("conv.weight") {
                    out.append(.up(try Conv2dLayer(m("conv"), in: channels, out: channels, kernel: 3)))
                } else {
                    throw LDMError.model("\(m.prefix) is no UNet module libldm knows")
                }
            }
            return out
        }

        var channels = mc
        var skips = [mc]
        var inputs = [[Module]]()
        for i in 1..<inputCount {
            let level = (i - 1) / perLevel
            let isDown = (i - 1) % perLevel == perLevel - 1
            inputs.append(try modules("input_blocks.\(i)", level: level, channels: &channels, resample: isDown ? .down : nil))
            skips.append(channels)
        }
        inputBlocks = inputs
        middle = try modules("middle_block", level: levels - 1, channels: &channels, resample: nil)
        var outputs = [[Module]]()
        for i in 0..<outputCount {
            channels += skips.removeLast()
            outputs.append(try modules("output_blocks.\(i)", level: levels - 1 - i / perLevel, channels: &channels, resample: .up))
        }
        outputBlocks = outputs
        outNorm = try GroupNormLayer(w("out.0"), channels: channels, groups: groups, eps: eps)
        outConv = try Conv2dLayer(w("out.2"), in: channels, out: config.outChannels, kernel: 3)
    }

    static func isUpsampler(_ m: WeightScope) -> Bool { m.has("conv.weight") || m.has("in_layers.0.weight") }

    /// The downsampling the UNet applies: latent sides must be multiples of it.
    public var factor: Int { 1 << (config.levels - 1) }

    /// x [N, inChannels, h, w] (concat conditioning already appended), timesteps per item,
    /// context [N, tokens, contextDim] for cross-attention, class labels or vectors [N, adm]
    /// -> model output [N, outChannels, h, w].
    public func callAsFunction(_ x: Tensor, timesteps: [Float], context: Tensor?, classLabels: [Int]? = nil,
                               vector: Tensor? = nil, ws: Workspace) throws -> Tensor {
        let n = x.shape.first ?? 0
        guard x.shape.count == 4, x.shape[1] == config.inChannels, n > 0, timesteps.count == n else {
            throw LDMError.shape("the UNet needs x [N, \(config.inChannels), h, w] and N timesteps; got \(x.shape), \(timesteps.count)")
        }
        guard x.shape[2] % factor == 0, x.shape[3] % factor == 0, x.shape[2] > 0, x.shape[3] > 0 else {
            throw LDMError.shape("latent sides must be multiples of \(factor) for this UNet; got \(x.shape[2])x\(x.shape[3])")
        }
        if let cd = config.contextDim {
            guard let context, context.shape.count == 3, context.shape[0] == n, context.shape[2] == cd, context.shape[1] > 0 else {
                throw LDMError.shape("the UNet needs a context [\(n), tokens, \(cd)]; got \(context.map { "\($0.shape)" } ?? "none")")
            }
        }

        var emb = try timeOut(try silu(try timeIn(try timestepFeatures(timesteps, dim: config.modelChannels,
                                                                       flipSinToCos: config.flipSinToCos, freqShift: config.freqShift), ws), ws), ws)
        if let table = labelTable {
            guard let classLabels, classLabels.count == n else { throw LDMError.invalidArgument("this UNet needs a class label per item") }
            let d = table.shape[1]
            var row = [Float](repeating: 0, count: d)
            for (b, label) in classLabels.enumerated() {
                guard label >= 0, label < table.shape[0] else {
                    throw LDMError.invalidArgument("class label \(label) is outside 0..<\(table.shape[0])")
                }
                try row.withUnsafeMutableBufferPointer { try table.decode(label * d, d, into: $0.baseAddress!) }
                for i in 0..<d { emb.item(b)[i] += row[i] }
            }
        } else if let labelIn, let labelOut {
            guard let vector, vector.shape == [n, labelIn.inFeatures] else {
                throw LDMError.invalidArgument("this UNet needs a conditioning vector [\(n), \(labelIn.inFeatures)]")
            }
            let e = try labelOut(try silu(try labelIn(vector, ws), ws), ws)
            addInPlace(emb, e, ws: ws)
        }
        emb = try silu(emb, ws)

        var h = try inConv(x, ws)
        var skips = [h]
        for block in inputBlocks {
            h = try run(block, h, emb: emb, context: context, ws)
            skips.append(h)
        }
        h = try run(middle, h, emb: emb, context: context, ws)
        for block in outputBlocks {
            h = try run(block, try concatChannels(h, skips.removeLast()), emb: emb, context: context, ws)
        }
        return try outConv(h, map: outNorm.map(h, silu: true, ws), ws)
    }

    private func run(_ block: [Module], _ x: Tensor, emb: Tensor, context: Tensor?, _ ws: Workspace) throws -> Tensor {
        var h = x
        for m in block {
            try ws.checkCancelled()
            switch m {
            case .res(let r): h = try r(h, embAct: emb, ws)
            case .transformer(let t): h = try t(h, context: context, ws)
            case .attention(let a): h = try a(h, ws)
            case .down(let c): h = try c(h, ws)
            case .up(let c): h = try c(h, map: InputMap(upsample: true), ws)
            }
        }
        return h
    }

    private func silu(_ t: Tensor, _ ws: Workspace) throws -> Tensor {
        let y = try t.copy()
        siluInPlace(y, ws: ws)
        return y
    }
}
