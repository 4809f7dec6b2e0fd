import CKernels
import Dispatch

/// Splits `0..<n` into at most `threads` contiguous ranges and runs `body` on each, in
/// parallel. Every element is computed by exactly one range, so results never depend on the
/// thread count.
@inline(__always)
public func parallelRanges(_ n: Int, threads: Int, _ body: (Range<Int>) -> Void) {
    parallelChunks(n, threads: threads) { _, r in body(r) }
}

/// As parallelRanges, also passing each range's worker index (0 ..< parts), for per-worker
/// scratch. The ranges run on ck_parallel's workers, cut by their speeds in the regions before,
/// or evenly on libdispatch's where those are taken. An empty range is not run.
@inline(__always)
public func parallelChunks(_ n: Int, threads: Int, _ body: (Int, Range<Int>) -> Void) {
    let parts = min(max(threads, 1), n)
    if parts <= 1 {
        if n > 0 { body(0, 0..<n) }
        return
    }
    withoutActuallyEscaping(body) { body in
        var task = body
        let ran = withUnsafeMutablePointer(to: &task) { ctx in
            ck_parallel_ranges(n, parts, { ctx, p, lo, hi in
                ctx!.assumingMemoryBound(to: ((Int, Range<Int>) -> Void).self).pointee(p, lo..<hi)
            }, ctx) == 0
        }
        if !ran { DispatchQueue.concurrentPerform(iterations: parts) { p in body(p, (n * p / parts)..<(n * (p + 1) / parts)) } }
    }
}
