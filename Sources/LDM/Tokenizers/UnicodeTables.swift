@_spi(_Unicode) import Swift

/// The reference tokenizers (Hugging Face `tokenizers`) classify characters with tables of
/// several Unicode versions, older than the standard library's. A character assigned later is
/// unassigned there (category Cn, combining class 0, no decomposition, no case mapping), so
/// every property below first asks whether the reference knew the character at all.
enum ReferenceUnicode {
    /// unicode-normalization-alignments: NFC and NFD.
    static let normalization = (major: 9, minor: 0)
    /// unicode_categories: BERT's control, punctuation and nonspacing-mark tests.
    static let categories = (major: 8, minor: 0)
    /// Oniguruma: \p{L}, \p{N} of CLIP's word split.
    static let regex = (major: 16, minor: 0)
    /// Rust's char::to_lowercase.
    static let casing = (major: 17, minor: 0)

    static func knows(_ s: Unicode.Scalar, _ v: (major: Int, minor: Int)) -> Bool {
        guard let a = s.properties.age else { return false }
        return a.major < v.major || (a.major == v.major && a.minor <= v.minor)
    }

    /// The letters of CLIP's `[\p{L}]+`.
    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return knows(s, regex)
        default: return false
        }
    }

    /// The numbers of CLIP's `[\p{N}]`.
    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return knows(s, regex)
        default: return false
        }
    }

    /// Unicode White_Space: Oniguruma's \s and Rust's char::is_whitespace alike.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

    /// The characters whose category changed after Unicode 8.0, with the old one.
    private static let categoriesBefore: [UInt32: Unicode.GeneralCategory] = [
        0x166D: .otherPunctuation, 0x111C9: .otherPunctuation, 0x1734: .nonspacingMark, 0x1171E: .nonspacingMark,
        0x1885: .otherLetter, 0x1886: .otherLetter, 0xA9BD: .spacingMark,
    ]

    /// The category BERT's tests see, nil for a character unknown to them.
    private static func category(_ s: Unicode.Scalar) -> Unicode.GeneralCategory? {
        guard knows(s, categories) else { return nil }
        return categoriesBefore[s.value] ?? s.properties.generalCategory
    }

    /// Categories Cc, Cf, Cs, Co (unicode_categories has no table for Cn: unassigned code points
    /// and noncharacters are kept).
    static func isOther(_ s: Unicode.Scalar) -> Bool {
        switch category(s) {
        case .control, .format, .surrogate, .privateUse: return true
        default: return false
        }
    }

    /// Category P*.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        switch category(s) {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    /// Category Mn: what BERT's accent stripping removes after NFD.
    static func isNonspacingMark(_ s: Unicode.Scalar) -> Bool {
        category(s) == .nonspacingMark
    }

    /// Full lowercase mapping of one character, without context (no final-sigma rule).
    static func appendLowercase(_ s: Unicode.Scalar, to out: inout [Unicode.Scalar]) {
        guard s.value >= 0x80 else {
            out.append(s.value >= 0x41 && s.value <= 0x5A ? Unicode.Scalar(s.value + 32)! : s)
            return
        }
        guard knows(s, casing), s.properties.changesWhenLowercased else { out.append(s); return }
        out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
    }

    static func nfc(_ text: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        normalize(text) { $0._nfc.map { $0 } }
    }

    static func nfd(_ text: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        normalize(text) { $0._nfd.map { $0 } }
    }

    /// Runs the standard library's normalization (the same one Foundation uses) between the
    /// characters the reference does not know: to it they are starters that neither decompose
    /// nor compose, so they split the text into independent runs.
    private static func normalize(_ text: ArraySlice<Unicode.Scalar>, _ form: (String) -> [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out = [Unicode.Scalar]()
        out.reserveCapacity(text.count)
        var run = String.UnicodeScalarView()
        var ascii = true
        func flush() {
            if ascii { out += run } else { out += form(String(run)) }
            run = String.UnicodeScalarView()
            ascii = true
        }
        for c in text {
            if c.isASCII {
                run.append(c)
            } else if !knows(c, normalization) {
                flush()
                out.append(c)
            } else {
                ascii = false
                if let parts = nonStarterDecompositions[c.value] { run += parts } else { run.append(c) }
            }
        }
        flush()
        return out
    }

    /// Starters whose decomposition begins with non-starters. The standard library does not
    /// reorder those marks with the ones before them (U+0F73 after U+0F72 stays 0F72 0F71 0F72),
    /// so they are decomposed first; being composition exclusions, NFC keeps them apart too.
    private static let nonStarterDecompositions: [UInt32: [Unicode.Scalar]] = [
        0x0F73: ["\u{0F71}", "\u{0F72}"], 0x0F75: ["\u{0F71}", "\u{0F74}"], 0x0F81: ["\u{0F71}", "\u{0F80}"],
    ]
}
