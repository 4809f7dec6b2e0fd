/// Special tokens written literally in a prompt ("<|endoftext|>", "[SEP]") become those tokens,
/// as in the reference tokenizers: they are cut out of the raw text, before any cleaning, by
/// leftmost-longest match, case-sensitively.
struct SpecialTokens: Sendable {
    enum Piece {
        case text(ArraySlice<Unicode.Scalar>)
        case token(Int)
    }

    private let patterns: [(scalars: [Unicode.Scalar], id: Int)]

    /// The `names` that the vocabulary holds.
    init(_ names: [String], vocabulary: Vocabulary) {
        patterns = names.compactMap { name in vocabulary[name].map { (Array(name.unicodeScalars), $0) } }
    }

    func split(_ text: [Unicode.Scalar]) -> [Piece] {
        var pieces = [Piece]()
        var start = 0, i = 0
        while i < text.count {
            var best: (length: Int, id: Int)?
            for p in patterns where p.scalars.count > (best?.length ?? 0) && text[i...].starts(with: p.scalars) {
                best = (p.scalars.count, p.id)
            }
            guard let best else { i += 1; continue }
            if start < i { pieces.append(.text(text[start..<i])) }
            pieces.append(.token(best.id))
            i += best.length
            start = i
        }
        if start < text.count { pieces.append(.text(text[start...])) }
        return pieces
    }

    /// `start`, then special tokens written in `text` as themselves and the text between them
    /// through `tokenize`, then `end`: the frame both tokenizers share.
    func encode(_ text: String, start: Int, end: Int, _ tokenize: (ArraySlice<Unicode.Scalar>) -> [Int]) -> [Int] {
        var ids = [start]
        for piece in split(Array(text.unicodeScalars)) {
            switch piece {
            case .token(let id): ids.append(id)
            case .text(let raw): ids += tokenize(raw)
            }
        }
        ids.append(end)
        return ids
    }
}
