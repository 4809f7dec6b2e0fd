/// CLIP's byte-level BPE tokenizer (SD1's CLIP ViT-L/14, SD2's OpenCLIP ViT-H: one vocabulary).
/// Each word's UTF-8 bytes become byte-level characters, "</w>" marks the last one, and the
/// merges join them into tokens.
public final class CLIPTokenizer: Tokenizer, Sendable {
    public let startToken: Int
    public let endToken: Int
    public let padToken: Int
    public let maxLength: Int
    private let merges: BytePairMerges
    private let specials: SpecialTokens
    /// The token of each byte, alone and ending a word; the unknown token (the end token, as in
    /// the reference) where the vocabulary lacks one.
    private let byteTokens: [Int], lastByteTokens: [Int]

    /// `tokens` in id order, `merges` as "left right" lines by rank, `pad` nil for the end token.
    public init(tokens: [String], merges: [String], pad: Int? = nil, maxLength: Int = 77) throws {
        let vocabulary = try Vocabulary(tokens)
        guard let start = vocabulary["<|startoftext|>"], let end = vocabulary["<|endoftext|>"] else {
            throw LDMError.corrupt("CLIP vocabulary lacks <|startoftext|> or <|endoftext|>")
        }
        let pad = pad ?? end
        guard tokens.indices.contains(pad) else { throw LDMError.invalidArgument("pad token \(pad) is not in the vocabulary") }
        guard maxLength >= 2 else { throw LDMError.invalidArgument("maxLength \(maxLength) leaves no room for start and end tokens") }
        self.startToken = start
        self.endToken = end
        self.padToken = pad
        self.maxLength = maxLength
        self.merges = try BytePairMerges(merges, vocabulary: vocabulary)
        self.specials = SpecialTokens(["<|startoftext|>", "<|endoftext|>"], vocabulary: vocabulary)
        let chars = ByteLevel.characters.map { String(Character($0)) }
        byteTokens = chars.map { vocabulary[$0] ?? end }
        lastByteTokens = chars.map { vocabulary[$0 + "</w>"] ?? end }
    }

    public func encode(_ text: String) -> [Int] {
        specials.encode(text, start: startToken, end: endToken) { raw in
            var ids = [Int]()
            for word in CLIPText.words(CLIPText.normalize(raw)) {
                var bytes = [UInt8]()
                for c in word { UTF8.encode(c) { bytes.append($0) } }
                var symbols = bytes.map { byteTokens[Int($0)] }
                symbols[symbols.count - 1] = lastByteTokens[Int(bytes[bytes.count - 1])]
                merges.apply(&symbols)
                ids += symbols
            }
            return ids
        }
    }
}
