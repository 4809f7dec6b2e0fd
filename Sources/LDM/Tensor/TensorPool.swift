import Glibc
import Synchronization

/// A few large freed tensor buffers, kept for the next allocation. Fresh buffers that size come
/// from mmap, and the kernel zeroes each page on first touch: a full extra pass over the data
/// for every activation of a big image. The pool holds at most two buffers and is emptied at
/// the end of every top-level operation, so it never holds memory between calls.
public enum TensorPool {
    /// Buffers from this size up are pooled (smaller ones are cheap to get from malloc).
    static let minimumBytes = 4 << 20
    static let slots = 2

    private static let held = Mutex<[(pointer: UnsafeMutableRawPointer, bytes: Int)]>([])

    /// A pooled buffer of at least `bytes` and at most twice that, with its size.
    static func take(_ bytes: Int) -> (UnsafeMutableRawPointer, Int)? {
        guard bytes >= minimumBytes else { return nil }
        return held.withLock { buffers in
            let fits = buffers.indices.filter { buffers[$0].bytes >= bytes && buffers[$0].bytes <= 2 * bytes }
            guard let best = fits.min(by: { buffers[$0].bytes < buffers[$1].bytes }) else { return nil }
            let b = buffers.remove(at: best)
            return (b.pointer, b.bytes)
        }
    }

    /// Keeps a freed buffer if it is large and a slot is free (or holds a smaller one, which is
    /// freed instead); false means the caller frees it.
    static func give(_ p: UnsafeMutableRawPointer, _ bytes: Int) -> Bool {
        guard bytes >= minimumBytes else { return false }
        var evicted: UnsafeMutableRawPointer?
        let kept = held.withLock { buffers -> Bool in
            if buffers.count < slots {
                buffers.append((p, bytes))
                return true
            }
            guard let smallest = buffers.indices.min(by: { buffers[$0].bytes < buffers[$1].bytes }),
                  buffers[smallest].bytes < bytes else { return false }
            evicted = buffers[smallest].pointer
            buffers[smallest] = (p, bytes)
            return true
        }
        free(evicted)
        return kept
    }

    /// Frees every pooled buffer.
    public static func drain() {
        let buffers = held.withLock { b -> [(pointer: UnsafeMutableRawPointer, bytes: Int)] in
            defer { b.removeAll() }
            return b
        }
        for b in buffers { free(b.pointer) }
    }
}
