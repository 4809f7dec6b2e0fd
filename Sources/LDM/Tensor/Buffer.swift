import Glibc

/// Raw storage for tensors and scratch, 64-byte aligned. Buffers from malloc's initial mmap
/// threshold up are mapped straight from the kernel and unmapped when freed: malloc raises that
/// threshold each time it frees a block it mapped, then serves such sizes from its heap, where
/// freed blocks stay resident. A model's peak memory would then depend on the order of its
/// allocations, even on which thread made them, rather than on what is alive (a 512 px UNet
/// call's peak anonymous memory read anything from 340 to 460 MB from run to run).
enum Buffer {
    /// Buffers from this size up are mapped.
    static let mappedBytes = 128 << 10
    /// `bytes` of uninitialised storage (mapped ones read as zeros), or nil when out of memory.
    /// With `huge`, a mapping asks for transparent huge pages (where the kernel offers them).
    static func allocate(_ bytes: Int, huge: Bool = false) -> UnsafeMutableRawPointer? {
        if bytes >= mappedBytes {
            guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else { return nil }
            if huge { madvise(p, bytes, MADV_HUGEPAGE) }
            return p
        }
        var p: UnsafeMutableRawPointer?
        return posix_memalign(&p, 64, max(bytes, 1)) == 0 ? p : nil
    }

    /// Gives the whole pages inside `bytes` at `p` back to the kernel, if `capacity` (what
    /// `allocate` was asked for) made it a mapping: they then read as zeros. Heap blocks are
    /// left alone.
    static func drop(_ p: UnsafeMutableRawPointer, _ bytes: Int, capacity: Int) {
        guard capacity >= mappedBytes else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: p) + page - 1) / page * page, end = (Int(bitPattern: p) + bytes) / page * page
        if end > start { madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED) }
    }

    /// Frees what `allocate(bytes)` returned, with the same `bytes`.
    static func free(_ p: UnsafeMutableRawPointer?, _ bytes: Int) {
        guard let p else { return }
        if bytes >= mappedBytes { munmap(p, bytes) } else { Glibc.free(p) }
    }
}
