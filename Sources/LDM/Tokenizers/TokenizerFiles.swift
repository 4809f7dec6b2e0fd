/// Reading the tokenizer files that sit next to a model (a diffusers pipeline's tokenizer/).
enum TokenizerFiles {
    /// The text of a file, which must be UTF-8.
    static func text(_ path: String) throws -> String {
        let file = try MappedFile(path)
        let bytes = UnsafeRawBufferPointer(start: file.base, count: file.size).bindMemory(to: UInt8.self)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw LDMError.corrupt("\(path) is not UTF-8") }
        return text
    }

    /// The lines of a text file, without line ends; a final line end starts no line.
    static func lines(_ path: String) throws -> [String] {
        var lines = try text(path).utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
        }
    }

    static func json(_ path: String) throws -> MetaValue {
        let file = try MappedFile(path)
        return try JSON.parse(UnsafeRawBufferPointer(start: file.base, count: file.size), what: path)
    }

    /// vocab.json, {token: id} with ids 0..<count, as tokens in id order.
    static func vocabularyJSON(_ path: String) throws -> [String] {
        guard let object = try json(path).object else { throw LDMError.corrupt("\(path) is not a JSON object") }
        var tokens = [String?](repeating: nil, count: object.count)
        for (token, value) in object {
            guard let id = value.int, tokens.indices.contains(id), tokens[id] == nil else {
                throw LDMError.corrupt("\(path): token \"\(token.prefix(40))\" has a bad or repeated id")
            }
            tokens[id] = token
        }
        return tokens.map { $0! }  // count distinct ids below count fill every slot
    }

    /// merges.txt: an optional "#version" line, then one "left right" pair per line.
    static func merges(_ path: String) throws -> [String] {
        try lines(path).filter { !$0.hasPrefix("#version") && !$0.isEmpty }
    }

    /// A setting of tokenizer_config.json, else of special_tokens_map.json, in `directory`. Token
    /// settings are strings or {"content": string}.
    static func setting(_ key: String, in directory: String) throws -> MetaValue? {
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let path = directory + "/" + name
            guard pathExists(path) else { continue }
            if let v = try json(path)[key] { return v["content"] ?? v }
        }
        return nil
    }
}

extension CLIPTokenizer {
    /// vocab.json and merges.txt.
    public convenience init(vocabFile: String, mergesFile: String, pad: Int? = nil, maxLength: Int = 77) throws {
        try self.init(tokens: TokenizerFiles.vocabularyJSON(vocabFile), merges: TokenizerFiles.merges(mergesFile),
                      pad: pad, maxLength: maxLength)
    }

    /// A tokenizer folder: merges.txt, vocab.json (derived from the merges as OpenAI's CLIP does
    /// when absent), the pad token from tokenizer_config.json when it names one.
    public convenience init(directory: String, maxLength: Int = 77) throws {
        let merges = try TokenizerFiles.merges(directory + "/merges.txt")
        let vocabPath = directory + "/vocab.json"
        let tokens = pathExists(vocabPath) ? try TokenizerFiles.vocabularyJSON(vocabPath) : Self.openAIVocabulary(merges: merges)
        var pad: Int?
        if let name = try TokenizerFiles.setting("pad_token", in: directory)?.string {
            guard let id = tokens.lastIndex(where: { $0.utf8.elementsEqual(name.utf8) }) else { throw LDMError.corrupt("pad token \"\(name.prefix(40))\" is not in the vocabulary") }
            pad = id
        }
        try self.init(tokens: tokens, merges: merges, pad: pad, maxLength: maxLength)
    }

    /// OpenAI's CLIP vocabulary, built from its merges: the 256 byte characters by code point, the
    /// same ending a word, one token per merge, then <|startoftext|> and <|endoftext|>.
    public static func openAIVocabulary(merges: [String]) -> [String] {
        let bytes = ByteLevel.characters.sorted { $0.value < $1.value }.map { String(Character($0)) }
        return bytes + bytes.map { $0 + "</w>" } + merges.map { $0.split(separator: " ").joined() }
            + ["<|startoftext|>", "<|endoftext|>"]
    }
}

extension WordPieceTokenizer {
    /// vocab.txt: one token per line, the id is the line number.
    public convenience init(vocabFile: String, lowercase: Bool = true, maxLength: Int = 77) throws {
        try self.init(tokens: TokenizerFiles.lines(vocabFile), lowercase: lowercase, maxLength: maxLength)
    }

    /// A tokenizer folder: vocab.txt, and do_lower_case from tokenizer_config.json when present.
    public convenience init(directory: String, maxLength: Int = 77) throws {
        let lowercase = try TokenizerFiles.setting("do_lower_case", in: directory)?.bool ?? true
        try self.init(vocabFile: directory + "/vocab.txt", lowercase: lowercase, maxLength: maxLength)
    }
}
