/// Prompts to conditionings. One window is the encoder's positions (77): start token, up to 75
/// text tokens, end token, padding. Longer prompts are not cut but encoded window by window
/// and their contexts concatenated, as popular UIs do.
extension Context {
    /// The token windows the text encoder sees for `prompt`.
    public func tokenWindows(_ prompt: String) throws -> [[Int]] {
        guard let tokenizer = model.tokenizer, let encoder = model.textEncoder else {
            throw LDMError.model(model.textEncoder == nil ? "\(model.path) has no text encoder"
                                 : "\(model.path) has no tokenizer: put its vocabulary files beside the model or convert with --tokenizer")
        }
        let n = encoder.maxLength, perWindow = n - 2
        let ids = tokenizer.encode(prompt)
        let text = Array(ids.dropFirst().dropLast())
        let chunks = stride(from: 0, to: max(text.count, 1), by: perWindow).map { Array(text[$0..<min($0 + perWindow, text.count)]) }
        return chunks.map { chunk in
            [tokenizer.startToken] + chunk + [tokenizer.endToken] + [Int](repeating: tokenizer.padToken, count: perWindow - chunk.count)
        }
    }

    /// The context of `prompt`: [77 * windows, width].
    public func encodeText(_ prompt: String) throws -> Tensor {
        defer { finish() }
        let windows = try tokenWindows(prompt)
        let encoder = model.textEncoder!
        let out = try Tensor([windows.count * encoder.maxLength, encoder.width])
        for (i, ids) in windows.enumerated() {
            try ws.checkCancelled()
            let c = try encoder(ids, ws: ws)
            (out.data + i * c.count).update(from: c.data, count: c.count)
        }
        return out
    }

    public func textConditioning(_ prompt: String) throws -> Conditioning {
        ws.resetCancel()
        return Conditioning(context: try encodeText(prompt))
    }

    /// The model's unconditional side for guidance: the empty prompt, the "no class" class, or
    /// nothing for unconditional models.
    public func unconditional() throws -> Conditioning {
        if model.textEncoder != nil { return try textConditioning("") }
        if let classes = model.classEmbedder?.classes { return Conditioning(classLabel: classes - 1) }
        if model.unet?.config.numClasses != nil {
            throw LDMError.invalidArgument("this model's class embedding has no documented unconditional class: give one")
        }
        return Conditioning()
    }

    /// Pads the shorter of two text contexts with empty-prompt windows, so guidance runs both
    /// sides as one batch (as popular UIs do for long prompts).
    func matchWindows(_ a: Conditioning, _ b: Conditioning) throws -> (Conditioning, Conditioning) {
        guard let ca = a.context, let cb = b.context, ca.shape[0] != cb.shape[0], let encoder = model.textEncoder,
              ca.shape[0] % encoder.maxLength == 0, cb.shape[0] % encoder.maxLength == 0 else { return (a, b) }
        let empty = try encodeText("")
        func padded(_ c: Conditioning, to rows: Int) throws -> Conditioning {
            guard let ctx = c.context, ctx.shape[0] < rows else { return c }
            let t = try Tensor([rows, ctx.shape[1]])
            t.data.update(from: ctx.data, count: ctx.count)
            for r in stride(from: ctx.shape[0], to: rows, by: encoder.maxLength) {
                (t.data + r * ctx.shape[1]).update(from: empty.data, count: empty.count)
            }
            return Conditioning(context: t, classLabel: c.classLabel, concat: c.concat, vector: c.vector)
        }
        let rows = max(ca.shape[0], cb.shape[0])
        return (try padded(a, to: rows), try padded(b, to: rows))
    }
}
