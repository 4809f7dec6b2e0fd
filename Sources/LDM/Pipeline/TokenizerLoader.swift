/// Finds a model's tokenizer: the vocabulary the converter embedded (tokenizer.ggml.* keys),
/// a pipeline's tokenizer/ folder, or the standard files beside a single-file checkpoint
/// (vocab.json + merges.txt for CLIP, vocab.txt for BERT; also in a tokenizer/ folder there).
/// No vocabulary is compiled in.
enum TokenizerLoader {
    static func load(_ store: TensorStore, modelPath: String, maxLength: Int) throws -> Tokenizer? {
        let m = store.metadata
        if let kind = m["tokenizer.ggml.model"]?.string {
            guard let tokens = m["tokenizer.ggml.tokens"]?.strings else {
                throw LDMError.corrupt("\(modelPath): tokenizer.ggml.tokens is missing or not a list of strings")
            }
            switch kind {
            case "clip":
                guard let merges = m["tokenizer.ggml.merges"]?.strings else {
                    throw LDMError.corrupt("\(modelPath): tokenizer.ggml.merges is missing")
                }
                return try CLIPTokenizer(tokens: tokens, merges: merges, pad: m["tokenizer.ggml.padding_token_id"]?.int, maxLength: maxLength)
            case "bert":
                return try WordPieceTokenizer(tokens: tokens, lowercase: m["ldm.tokenizer.lowercase"]?.bool ?? true, maxLength: maxLength)
            default:
                throw LDMError.unsupported("\(modelPath): tokenizer model \(kind) is not supported (clip and bert are)")
            }
        }
        let beside = isDirectory(modelPath) ? modelPath : parentFolder(modelPath)
        for folder in [store.tokenizerFolder, beside + "/tokenizer", beside].compactMap({ $0 }) {
            if let t = try fromFolder(folder, maxLength: maxLength) { return t }
        }
        return nil
    }

    /// A transformers tokenizer folder, or nil when it holds no vocabulary.
    static func fromFolder(_ dir: String, maxLength: Int) throws -> Tokenizer? {
        if pathExists(dir + "/merges.txt") { return try CLIPTokenizer(directory: dir, maxLength: maxLength) }
        if pathExists(dir + "/vocab.txt") { return try WordPieceTokenizer(directory: dir, maxLength: maxLength) }
        if pathExists(dir + "/tokenizer.json") { return try fromTokenizerJSON(dir, maxLength: maxLength) }
        return nil
    }

    /// The `tokenizers` library's single file (what transformers 5 saves): a BPE or WordPiece
    /// model with its vocabulary, merges and normaliser settings.
    static func fromTokenizerJSON(_ dir: String, maxLength: Int) throws -> Tokenizer {
        let path = dir + "/tokenizer.json"
        let spec = try ModelLoader.readJSON(path)
        guard let model = spec["model"], let vocab = model["vocab"]?.object else {
            throw LDMError.corrupt("\(path) has no model vocabulary")
        }
        var tokens = [String?](repeating: nil, count: vocab.count)
        for (token, id) in vocab {
            guard let i = id.int, tokens.indices.contains(i), tokens[i] == nil else {
                throw LDMError.corrupt("\(path): token ids are not 0 ..< \(vocab.count)")
            }
            tokens[i] = token
        }
        let list = tokens.map { $0! }
        switch model["type"]?.string {
        case "BPE":
            let merges = try (model["merges"]?.array ?? []).map { m -> String in
                if let s = m.string { return s }
                guard let pair = m.strings, pair.count == 2 else { throw LDMError.corrupt("\(path): a merge is neither \"a b\" nor [a, b]") }
                return pair.joined(separator: " ")
            }
            let padName = try TokenizerFiles.setting("pad_token", in: dir)?.string
            return try CLIPTokenizer(tokens: list, merges: merges, pad: padName.flatMap { vocab[$0]?.int }, maxLength: maxLength)
        case "WordPiece":
            return try WordPieceTokenizer(tokens: list, lowercase: spec["normalizer"]?["lowercase"]?.bool ?? true, maxLength: maxLength)
        case let other:
            throw LDMError.unsupported("\(path): tokenizer model \(other ?? "(none)") is not supported (BPE and WordPiece are)")
        }
    }

    static func parentFolder(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
