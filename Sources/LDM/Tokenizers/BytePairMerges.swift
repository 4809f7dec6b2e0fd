/// Byte-pair merges over token ids. A word's symbols are merged pair by pair, always the pair
/// of lowest rank (earliest line of merges.txt), the leftmost one on ties, until no adjacent
/// pair has a merge; this is what `tokenizers`' BPE model does with its priority queue.
struct BytePairMerges: Sendable {
    /// (left id << 32 | right id) -> (rank << 32 | merged id).
    private let table: [UInt64: UInt64]

    /// `merges` are "left right" token pairs, by rank; all three tokens must be in `vocabulary`.
    init(_ merges: [String], vocabulary: Vocabulary) throws {
        var table = [UInt64: UInt64](minimumCapacity: merges.count)
        for (rank, line) in merges.enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw LDMError.corrupt("merge \(rank + 1) is not two tokens: \"\(line.prefix(80))\"")
            }
            guard let a = vocabulary[String(parts[0])], let b = vocabulary[String(parts[1])],
                  let ab = vocabulary[String(parts[0] + parts[1])] else {
                throw LDMError.corrupt("merge \(rank + 1) \"\(line.prefix(80))\" uses a token missing from the vocabulary")
            }
            table[Self.key(a, b)] = UInt64(rank) << 32 | UInt64(ab)
        }
        self.table = table
    }

    private static func key(_ a: Int, _ b: Int) -> UInt64 { UInt64(a) << 32 | UInt64(b) }

    /// Merges `symbols` in place. A heap of (rank, position) keeps long words (a prompt may be one
    /// 10 000-letter word) at n log n.
    func apply(_ symbols: inout [Int]) {
        let n = symbols.count
        guard n > 1 else { return }
        var next = Array(1...n), prev = Array(-1..<(n - 1))
        var alive = [Bool](repeating: true, count: n)
        var heap = MinHeap()
        func push(_ left: Int) {
            guard let m = table[Self.key(symbols[left], symbols[next[left]])] else { return }
            heap.push(m & 0xFFFF_FFFF_0000_0000 | UInt64(left))
        }
        for i in 0..<(n - 1) { push(i) }
        while let top = heap.pop() {
            let left = Int(top & 0xFFFF_FFFF), rank = top >> 32
            guard alive[left], next[left] < n,
                  let m = table[Self.key(symbols[left], symbols[next[left]])], m >> 32 == rank else { continue }
            let right = next[left]
            symbols[left] = Int(m & 0xFFFF_FFFF)
            alive[right] = false
            next[left] = next[right]
            if next[left] < n { prev[next[left]] = left }
            if prev[left] >= 0 { push(prev[left]) }
            if next[left] < n { push(left) }
        }
        var out = [Int]()
        out.reserveCapacity(n)
        var i = 0
        while i < n { out.append(symbols[i]); i = next[i] }
        symbols = out
    }
}

/// A binary min-heap of UInt64 keys.
private struct MinHeap {
    private var items = [UInt64]()

    mutating func push(_ x: UInt64) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[parent] > items[i] else { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && items[l] < items[m] { m = l }
            if r < items.count && items[r] < items[m] { m = r }
            guard m != i else { break }
            items.swapAt(m, i)
            i = m
        }
        return top
    }
}
