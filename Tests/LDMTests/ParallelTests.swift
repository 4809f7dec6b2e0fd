import CKernels
import Dispatch
import Synchronization
import XCTest
@testable import LDM

/// parallelChunks on ck_parallel's workers: every index once, part p the range ck_parallel_cuts
/// gives it, also where regions of fewer parts follow wider ones, nest, or come from two callers
/// at once, and where one worker is slower than the caller.
final class ParallelTests: XCTestCase {
    /// Where the next region of `parts` parts over n items will cut (parts + 1 entries).
    func cuts(_ n: Int, parts: Int) -> [Int] {
        var cut = [Int](repeating: 0, count: parts + 1)
        ck_parallel_cuts(n, parts, &cut)
        return cut
    }

    /// Runs a region and checks what each part saw (a part writes only its own indices): the
    /// ranges tile 0 ..< n in part order, for two parts as ck_parallel_cuts said (libdispatch
    /// cuts evenly, as ck_parallel_cuts does until a worker has been timed: on one CPU, or
    /// for wider regions here).
    func check(_ n: Int, threads: Int, file: StaticString = #filePath, line: UInt = #line) {
        let parts = min(max(threads, 1), n)
        let expected = parts == 2 ? cuts(n, parts: 2) : nil
        var hits = [Int](repeating: 0, count: n), partOf = [Int](repeating: -1, count: n)
        hits.withUnsafeMutableBufferPointer { h in
            partOf.withUnsafeMutableBufferPointer { q in
                parallelChunks(n, threads: threads) { p, range in
                    XCTAssertFalse(range.isEmpty, "part \(p) run on nothing", file: file, line: line)
                    for i in range {
                        h[i] += 1
                        q[i] = p
                    }
                }
            }
        }
        for i in 0..<n {
            XCTAssertEqual(hits[i], 1, "index \(i) of \(n), \(threads) threads", file: file, line: line)
            if i > 0 { XCTAssertLessThanOrEqual(partOf[i - 1], partOf[i], "index \(i) out of part order", file: file, line: line) }
            if let expected { XCTAssertTrue((expected[partOf[i]]..<expected[partOf[i] + 1]) ~= i, "index \(i) in part \(partOf[i])", file: file, line: line) }
        }
    }

    func testEveryIndexOnceInItsPart() {
        for round in 0..<200 {
            check(1 + round % 37, threads: 1 + round % 5)  // part counts rise and fall between regions
        }
        check(1000, threads: 64)
        check(1000, threads: 65)  // more than 64 parts (or than the CPUs, as most here): libdispatch's
    }

    func testNestedAndConcurrentRegions() {
        let total = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 2) { _ in  // two callers at once
            for _ in 0..<50 {
                parallelChunks(8, threads: 4) { _, outer in
                    parallelRanges(10, threads: 2) { inner in  // inside a region
                        total.add(outer.count * inner.count, ordering: .relaxed)
                    }
                }
            }
        }
        XCTAssertEqual(total.load(ordering: .relaxed), 2 * 50 * 8 * 10)
    }

    /// A worker twice as slow per item as the caller is given about a third of the next
    /// regions, and taught back afterwards.
    func testSlowWorkerGetsLess() throws {
        let threads = Mutex<Set<UInt>>([])
        parallelChunks(200, threads: 2) { _, range in  // no part is under a fifth
            usleep(UInt32(range.count * 10))
            threads.withLock { _ = $0.insert(UInt(pthread_self())) }
        }
        try XCTSkipIf(threads.withLock { $0.count } < 2, "one CPU: regions run on one thread")
        func teach(slowdown: Int) {
            for _ in 0..<50 {
                parallelChunks(200, threads: 2) { p, range in usleep(UInt32(range.count * 10 * (p == 1 ? slowdown : 1))) }
            }
        }
        teach(slowdown: 2)
        let slow = cuts(200, parts: 2)
        check(200, threads: 2)
        teach(slowdown: 1)
        XCTAssertGreaterThan(slow[1], 120, "cuts \(slow)")
        XCTAssertLessThan(abs(cuts(200, parts: 2)[1] - 100), 15)
    }
}
