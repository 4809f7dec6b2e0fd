import Synchronization

/// A few large freed tensor buffers, kept for the next allocation. Fresh buffers that size come
/// from mmap, and the kernel zeroes each page on first touch: a full extra pass over the data
/// for every activation of a big image. The pool holds at most two buffers and is emptied at
/// the end of every top-level operation, so it never holds memory between calls.
public enum TensorPool {
    /// Mapped buffers are pooled (smaller ones are cheap to get from malloc).
    static let minimumBytes = Buffer.mappedBytes
    static let slots = 2

    private typealias Held = (pointer: UnsafeMutableRawPointer, bytes: Int)
    private static let held = Mutex<[Held]>([])

    /// A pooled buffer of at least `bytes` and at most twice that, with its size. A miss frees
    /// the pooled buffers smaller than the request: activations that grew tend to stay grown,
    /// and a small buffer kept beside a new large one only raises the peak.
    static func take(_ bytes: Int) -> (UnsafeMutableRawPointer, Int)? {
        guard bytes >= minimumBytes else { return nil }
        var tooSmall = [Held]()
        let hit = held.withLock { buffers -> (UnsafeMutableRawPointer, Int)? in
            let fits = buffers.indices.filter { buffers[$0].bytes >= bytes && buffers[$0].bytes <= 2 * bytes }
            guard let best = fits.min(by: { buffers[$0].bytes < buffers[$1].bytes }) else {
                tooSmall = buffers.filter { $0.bytes < bytes }
                buffers.removeAll { $0.bytes < bytes }
                return nil
            }
            let b = buffers.remove(at: best)
            return (b.pointer, b.bytes)
        }
        for b in tooSmall { Buffer.free(b.pointer, b.bytes) }
        return hit
    }

    /// Keeps a freed buffer if it is large and a slot is free (or holds a smaller one, which is
    /// freed instead); false means the caller frees it.
    static func give(_ p: UnsafeMutableRawPointer, _ bytes: Int) -> Bool {
        guard bytes >= minimumBytes else { return false }
        var evicted: Held?
        let kept = held.withLock { buffers -> Bool in
            if buffers.count < slots {
                buffers.append((p, bytes))
                return true
            }
            guard let smallest = buffers.indices.min(by: { buffers[$0].bytes < buffers[$1].bytes }),
                  buffers[smallest].bytes < bytes else { return false }
            evicted = buffers[smallest]
            buffers[smallest] = (p, bytes)
            return true
        }
        if let evicted { Buffer.free(evicted.pointer, evicted.bytes) }
        return kept
    }

    /// Frees every pooled buffer.
    public static func drain() {
        let buffers = held.withLock { b -> [Held] in
            defer { b.removeAll() }
            return b
        }
        for b in buffers { Buffer.free(b.pointer, b.bytes) }
    }
}
