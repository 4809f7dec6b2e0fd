import Synchronization

/// Freed mapped tensor buffers, kept for the next allocations of their size. A fresh mapping is
/// zeroed by the kernel page by page on first touch: a full extra pass over the data for every
/// activation. The pool is emptied at the end of every top-level operation, so it never holds
/// memory between calls.
public enum TensorPool {
    /// Tier 0: buffers from 4 MB up (activations of big images): two of any size, and up to
    /// fourteen more of at most 16 MB, 128 MB in all. With two, each step of 512 px sampling
    /// mapped a gigabyte afresh: 3 steps of Q8_0 took 744k page faults, with these 127k, peak
    /// anonymous memory 370 -> 383 MB (F32: system time 5.4 -> 2.8 s). Larger extra buffers (a
    /// 512 px encoder's 33 and 67 MB ones) raised its peak by 64 MB and saved few faults.
    /// Tier 1: the other mapped buffers, of which a UNet call frees a few hundred in a dozen
    /// sizes: at most sixteen kept (64 MB at the very most; with them a 512 px UNet call peaks
    /// 36 MB higher and runs a few percent faster than with two).
    static let tiers: [(minimumBytes: Int, slots: Int, extra: (each: Int, total: Int))] = [
        (4 << 20, 16, (16 << 20, 128 << 20)), (Buffer.mappedBytes, 16, (.max, .max)),
    ]
    /// Buffers a tier keeps whatever their size (its largest ones); `extra` bounds the others.
    static let anySize = 2

    private typealias Held = (pointer: UnsafeMutableRawPointer, bytes: Int)
    private static let held = Mutex<[[Held]]>(Array(repeating: [], count: tiers.count))

    private static func tier(_ bytes: Int) -> Int? { tiers.firstIndex { bytes >= $0.minimumBytes } }

    /// A pooled buffer of at least `bytes` and at most twice that, with its size. A miss among
    /// the large buffers frees those smaller than the request: activations that grew tend to
    /// stay grown, and a large buffer kept beside a new larger one only raises the peak.
    static func take(_ bytes: Int) -> (UnsafeMutableRawPointer, Int)? {
        guard let t = tier(bytes) else { return nil }
        var tooSmall = [Held]()
        let hit = held.withLock { pool -> (UnsafeMutableRawPointer, Int)? in
            let fits = pool[t].indices.filter { pool[t][$0].bytes >= bytes && pool[t][$0].bytes <= 2 * bytes }
            guard let best = fits.min(by: { pool[t][$0].bytes < pool[t][$1].bytes }) else {
                guard t == 0 else { return nil }
                tooSmall = pool[t].filter { $0.bytes < bytes }
                pool[t].removeAll { $0.bytes < bytes }
                return nil
            }
            let b = pool[t].remove(at: best)
            return (b.pointer, b.bytes)
        }
        for b in tooSmall { Buffer.free(b.pointer, b.bytes) }
        return hit
    }

    /// Keeps a freed buffer if its tier has a free slot (or holds a smaller one, which is freed
    /// instead); false means the caller frees it.
    static func give(_ p: UnsafeMutableRawPointer, _ bytes: Int) -> Bool {
        guard let t = tier(bytes) else { return false }
        var evicted: Held?
        let kept = held.withLock { pool -> Bool in
            /// Whether buffers of these sizes may be held together.
            func allowed(_ sizes: [Int]) -> Bool {
                let others = sizes.sorted(by: >).dropFirst(anySize), bound = tiers[t].extra
                return others.allSatisfy { $0 <= bound.each } && others.reduce(0, +) <= bound.total
            }
            let sizes = pool[t].map(\.bytes)
            if sizes.count < tiers[t].slots && allowed(sizes + [bytes]) {
                pool[t].append((p, bytes))
                return true
            }
            guard let smallest = sizes.indices.min(by: { sizes[$0] < sizes[$1] }), sizes[smallest] < bytes,
                  allowed(sizes.enumerated().map { $0.offset == smallest ? bytes : $0.element }) else { return false }
            evicted = pool[t][smallest]
            pool[t][smallest] = (p, bytes)
            return true
        }
        if let evicted { Buffer.free(evicted.pointer, evicted.bytes) }
        return kept
    }

    /// Frees the pooled buffers larger than `bytes`: where no tensor to come is larger than half
    /// that, none of them would be taken (a buffer serves requests of half its size and up).
    static func dropLarger(than bytes: Int) {
        let gone = held.withLock { pool -> [Held] in
            defer { for t in pool.indices { pool[t].removeAll { $0.bytes > bytes } } }
            return pool.flatMap { $0.filter { $0.bytes > bytes } }
        }
        for b in gone { Buffer.free(b.pointer, b.bytes) }
    }

    /// Buffers held and their bytes, for tests.
    static var holding: (buffers: Int, bytes: Int) {
        held.withLock { pool in (pool.joined().count, pool.joined().reduce(0) { $0 + $1.bytes }) }
    }

    /// Frees every pooled buffer.
    public static func drain() { dropLarger(than: 0) }
}
