/// Token text -> id, compared byte for byte as the reference does. (Swift's String equality is
/// canonical equivalence, under which the syllable "한" and its NFD jamo "한" would be one token.)
struct Vocabulary: Sendable {
    private let ids: [[UInt8]: Int]
    let count: Int

    /// `tokens` in id order; a repeated token keeps its last id, like a dictionary built from the list.
    init(_ tokens: [String]) throws {
        guard !tokens.isEmpty else { throw LDMError.corrupt("empty vocabulary") }
        var ids = [[UInt8]: Int](minimumCapacity: tokens.count)
        for (id, token) in tokens.enumerated() { ids[Array(token.utf8)] = id }
        self.ids = ids
        self.count = tokens.count
    }

    subscript(_ token: String) -> Int? { ids[Array(token.utf8)] }
    subscript(_ bytes: [UInt8]) -> Int? { ids[bytes] }
}
