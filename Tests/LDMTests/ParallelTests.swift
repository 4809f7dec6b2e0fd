import Dispatch
import Synchronization
import XCTest
@testable import LDM

/// parallelChunks on ck_parallel's workers: every index once, part p its fixed range, also
/// where regions of fewer parts follow wider ones, nest, or come from two callers at once.
final class ParallelTests: XCTestCase {
    /// Runs a region and checks what each part saw (a part writes only its own indices).
    func check(_ n: Int, threads: Int, file: StaticString = #filePath, line: UInt = #line) {
        let parts = min(max(threads, 1), n)
        var hits = [Int](repeating: 0, count: n), partOf = [Int](repeating: -1, count: n)
        hits.withUnsafeMutableBufferPointer { h in
            partOf.withUnsafeMutableBufferPointer { q in
                parallelChunks(n, threads: threads) { p, range in
                    for i in range {
                        h[i] += 1
                        q[i] = p
                    }
                }
            }
        }
        for i in 0..<n {
            XCTAssertEqual(hits[i], 1, "index \(i) of \(n), \(threads) threads", file: file, line: line)
            let p = partOf[i]
            XCTAssertTrue((n * p / parts)..<(n * (p + 1) / parts) ~= i, "index \(i) in part \(p)", file: file, line: line)
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
}
