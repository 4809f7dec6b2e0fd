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
}
