/// BERT's basic tokenization, as transformers 5's BertTokenizer (backed by `tokenizers`) does it
/// for bert-base-uncased: drop NUL, U+FFFD and other-category characters, every whitespace to a
/// space (tab, newline and return count as whitespace, other C0 controls are dropped), space out
/// CJK ideographs, then, when lower-casing, NFD without nonspacing marks and per-character
/// lower-casing; words split at whitespace, each punctuation character a word of its own.
/// (The slow Python tokenizer differed: only category Zs was whitespace, and its CJK ranges
/// include U+2B820...U+2B91F, which `tokenizers` leaves out.)
enum BertText {
    static func normalize(_ text: ArraySlice<Unicode.Scalar>, lowercase: Bool) -> [Unicode.Scalar] {
        var cleaned = [Unicode.Scalar]()
        cleaned.reserveCapacity(text.count)
        for c in text {
            if c == "\t" || c == "\n" || c == "\r" {
                cleaned.append(" ")
            } else if c == "\0" || c == "\u{FFFD}" || ReferenceUnicode.isOther(c) {
                continue
            } else if ReferenceUnicode.isWhitespace(c) {
                cleaned.append(" ")
            } else if isCJK(c) {
                cleaned += [" ", c, " "]
            } else {
                cleaned.append(c)
            }
        }
        guard lowercase else { return cleaned }
        var out = [Unicode.Scalar]()
        out.reserveCapacity(cleaned.count)
        for c in ReferenceUnicode.nfd(cleaned[...]) where !ReferenceUnicode.isNonspacingMark(c) {
            ReferenceUnicode.appendLowercase(c, to: &out)
        }
        return out
    }

    /// The CJK Unified Ideographs blocks, as `tokenizers` lists them.
    private static func isCJK(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default: return false
        }
    }

    /// ASCII punctuation (which includes symbols such as $ + < = > ^ ` | ~) or category P*.
    private static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: return true
        default: return ReferenceUnicode.isPunctuation(c)
        }
    }

    /// The words of normalized text, in order.
    static func words(_ t: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var words = [ArraySlice<Unicode.Scalar>]()
        var start = 0
        for (i, c) in t.enumerated() {
            let space = ReferenceUnicode.isWhitespace(c)
            guard space || isPunctuation(c) else { continue }
            if start < i { words.append(t[start..<i]) }
            if !space { words.append(t[i..<(i + 1)]) }
            start = i + 1
        }
        if start < t.count { words.append(t[start...]) }
        return words
    }
}
