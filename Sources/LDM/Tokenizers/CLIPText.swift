/// CLIP's text cleaning and word split, as transformers 5's CLIPTokenizer (backed by
/// `tokenizers`) does them: NFC, every whitespace run to one space, per-character lower-casing,
/// then the words of
///     <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
/// (OpenAI's original also ran ftfy and html.unescape and lower-cased a final sigma to "ς"; the
/// reference does none of that: "&amp;" stays four tokens.)
enum CLIPText {
    static func normalize(_ text: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        var out = [Unicode.Scalar]()
        out.reserveCapacity(text.count)
        var inSpace = false
        for c in ReferenceUnicode.nfc(text) {
            if ReferenceUnicode.isWhitespace(c) {
                if !inSpace { out.append(" ") }
                inSpace = true
            } else {
                inSpace = false
                ReferenceUnicode.appendLowercase(c, to: &out)
            }
        }
        return out
    }

    private static let specials = ["<|startoftext|>", "<|endoftext|>"].map { Array($0.unicodeScalars) }

    /// The words of normalized text, in order.
    static func words(_ t: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var words = [ArraySlice<Unicode.Scalar>]()
        var i = 0
        func take(while keep: (Unicode.Scalar) -> Bool) {
            var j = i + 1
            while j < t.count && keep(t[j]) { j += 1 }
            words.append(t[i..<j])
            i = j
        }
        while i < t.count {
            let c = t[i]
            if ReferenceUnicode.isWhitespace(c) {
                i += 1
            } else if c == "<", let s = specials.first(where: { t[i...].starts(with: $0) }) {
                // The byte-level step after the split cuts it again into "<|", name, "|>".
                words += [t[i..<(i + 2)], t[(i + 2)..<(i + s.count - 2)], t[(i + s.count - 2)..<(i + s.count)]]
                i += s.count
            } else if c == "'", let n = contraction(t, i + 1) {
                words.append(t[i..<(i + 1 + n)])
                i += 1 + n
            } else if ReferenceUnicode.isLetter(c) {
                take(while: ReferenceUnicode.isLetter)
            } else if ReferenceUnicode.isNumber(c) {
                words.append(t[i..<(i + 1)])
                i += 1
            } else {
                take { !ReferenceUnicode.isWhitespace($0) && !ReferenceUnicode.isLetter($0) && !ReferenceUnicode.isNumber($0) }
            }
        }
        return words
    }

    /// The length of the contraction suffix ('s 't 're 've 'm 'll 'd, without the apostrophe)
    /// starting at `i`, if any.
    private static func contraction(_ t: [Unicode.Scalar], _ i: Int) -> Int? {
        guard i < t.count else { return nil }
        switch t[i] {
        case "s", "t", "m", "d": return 1
        case "r", "v":
            return i + 1 < t.count && t[i + 1] == "e" ? 2 : nil
        case "l":
            return i + 1 < t.count && t[i + 1] == "l" ? 2 : nil
        default: return nil
        }
    }
}
