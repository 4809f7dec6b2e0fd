/// BERT's WordPiece tokenizer (LDM's text encoder uses bert-base-uncased's). Each word is cut
/// greedily into the longest vocabulary pieces from its start, pieces after the first prefixed
/// with "##"; a word with no such cut, or over 100 characters, is one [UNK].
public final class WordPieceTokenizer: Tokenizer, Sendable {
    public let startToken: Int
    public let endToken: Int
    public let padToken: Int
    public let maxLength: Int
    private let unknownToken: Int
    private let lowercase: Bool
    private let vocabulary: Vocabulary
    private let specials: SpecialTokens
    private static let maxWordLength = 100
    private static let continuation = Array("##".utf8)

    /// `tokens` in id order; `lowercase` also strips accents, as the uncased models were trained.
    public init(tokens: [String], lowercase: Bool = true, maxLength: Int = 77) throws {
        let vocabulary = try Vocabulary(tokens)
        guard let cls = vocabulary["[CLS]"], let sep = vocabulary["[SEP]"], let pad = vocabulary["[PAD]"],
              let unk = vocabulary["[UNK]"] else {
            throw LDMError.corrupt("WordPiece vocabulary lacks [CLS], [SEP], [PAD] or [UNK]")
        }
        guard maxLength >= 2 else { throw LDMError.invalidArgument("maxLength \(maxLength) leaves no room for [CLS] and [SEP]") }
        self.startToken = cls
        self.endToken = sep
        self.padToken = pad
        self.unknownToken = unk
        self.maxLength = maxLength
        self.lowercase = lowercase
        self.vocabulary = vocabulary
        self.specials = SpecialTokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], vocabulary: vocabulary)
    }

    public func encode(_ text: String) -> [Int] {
        specials.encode(text, start: startToken, end: endToken) { raw in
            BertText.words(BertText.normalize(raw, lowercase: lowercase)).flatMap(pieces)
        }
    }

    private func pieces(_ word: ArraySlice<Unicode.Scalar>) -> [Int] {
        guard word.count <= Self.maxWordLength else { return [unknownToken] }
        // UTF-8 bytes of the word, and where each character starts in them.
        var bytes = [UInt8](), offsets = [Int]()
        for c in word {
            offsets.append(bytes.count)
            UTF8.encode(c) { bytes.append($0) }
        }
        offsets.append(bytes.count)
        var ids = [Int]()
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int?
            while end > start {
                let piece = Array(bytes[offsets[start]..<offsets[end]])
                if let id = vocabulary[start == 0 ? piece : Self.continuation + piece] { found = id; break }
                end -= 1
            }
            guard let found else { return [unknownToken] }
            ids.append(found)
            start = end
        }
        return ids
    }
}
