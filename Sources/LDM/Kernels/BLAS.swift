import CBLAS
import CKernels

/// The one door to matrix products. Matrices are row-major.
///
/// On CPUs with AVX-512 our own kernel (ck_sgemm) runs: Debian's OpenBLAS 0.3.21 uses only its
/// 256-bit kernels on recent AMD ones and its SSE3 ones on recent Intel ones. It also reads
/// weights as stored (fp16, bf16, Q8_0), converting them as it packs. Elsewhere OpenBLAS runs,
/// on weights converted a block at a time.
///
/// Either way results are bitwise the same for any thread count. OpenBLAS's own threading
/// changes results with the thread count (its partitions move), so it always runs
/// single-threaded here: a product is cut into tiles whose layout depends only on its shape,
/// and the tiles are spread over our threads; each output element is then computed by the same
/// call whatever the thread count. ck_sgemm gives an element the same value wherever a product
/// is cut, so its products are simply cut in `threads` parts.
public enum BLAS {
    /// Output columns per tile when splitting along N (at least 256, about an eighth of them:
    /// wide tiles pack the left matrix fewer times, eight keep up to eight threads busy), rows
    /// when splitting along M. Both depend on the shape only.
    static func tileColumns(_ n: Int) -> Int { max(256, (n / 8 + 63) / 64 * 64) }
    static let tileRows = 64

    /// OpenBLAS goes single-threaded, and its buffer pool is set up by one tiny product inside
    /// this once-only initialiser: concurrent first calls (which 0.3.21 can crash on) wait here.
    private static let ready: Void = {
        openblas_set_num_threads(1)
        var a: Float = 1, b: Float = 1, c: Float = 0
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1, &a, 1, &b, 1, 0, &c, 1)
    }()

    /// One single-threaded OpenBLAS product.
    private static func openblas(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                                 _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
                                 _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        _ = ready
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C.
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, threads: Int) {
        if ownKernel {
            ownGemm(transA: transA, transB: transB, m: m, n: n, k: k, a: WeightBlock(a), lda: lda, b: WeightBlock(b), ldb: ldb,
                    beta: beta, c: c, ldc: ldc, alpha: alpha, threads: threads)
            return
        }
        func call(_ m: Int, _ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
            openblas(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
        let width = tileColumns(n)
        if n >= 2 * width {
            let tiles = (n + width - 1) / width
            parallelRanges(tiles, threads: threads) { ts in
                for t in ts {
                    let j = t * width
                    call(m, min(width, n - j), a, transB ? b + j * ldb : b + j, c + j)
                }
            }
        } else if m >= 2 * tileRows {
            let tiles = (m + tileRows - 1) / tileRows
            parallelRanges(tiles, threads: threads) { ts in
                for t in ts {
                    let i = t * tileRows
                    call(min(tileRows, m - i), n, transA ? a + i : a + i * lda, b, c + i * ldc)
                }
            }
        } else {
            call(m, n, a, b, c)
        }
    }

    /// C = W op(B) + beta * C with a weight block as A (rows of k).
    static func gemm(transB: Bool = false, m: Int, n: Int, k: Int, a: WeightBlock, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        if let w = a.floats {
            return gemm(transB: transB, m: m, n: n, k: k, a: w, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: threads)
        }
        ownGemm(transA: false, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: WeightBlock(b), ldb: ldb,
                beta: beta, c: c, ldc: ldc, alpha: 1, threads: threads)
    }

    /// C = op(A) W^T + beta * C with a weight block as B (rows of k, so transB).
    static func gemm(transA: Bool = false, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: WeightBlock,
                     ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        precondition(transB, "weights are rows of k")
        if let w = b.floats {
            return gemm(transA: transA, transB: true, m: m, n: n, k: k, a: a, lda: lda, b: w, ldb: ldb, beta: beta, c: c, ldc: ldc,
                        threads: threads)
        }
        ownGemm(transA: transA, transB: true, m: m, n: n, k: k, a: WeightBlock(a), lda: lda, b: b, ldb: ldb,
                beta: beta, c: c, ldc: ldc, alpha: 1, threads: threads)
    }

    /// Whether products run on ck_sgemm: where the CPU has AVX-512 (tests switch it off to
    /// check the OpenBLAS path too).
    public internal(set) static var ownKernel = ck_has_avx512() != 0

    /// Cut in `threads` parts along the longer side, in whole micro-tiles (14 rows, 32 columns).
    /// Stored weights (A not transposed, B transposed) are read as stored.
    static func ownGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: WeightBlock, lda: Int,
                        b: WeightBlock, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                        alpha: Float, threads: Int) {
        func call(_ i: Range<Int>, _ j: Range<Int>) {
            // A transposed or B not is fp32 (ck_sgemm_typed refuses stored weights there).
            let ai = transA ? WeightBlock(a.floats! + i.lowerBound) : a.from(row: i.lowerBound, ld: lda)
            let bj = transB ? b.from(row: j.lowerBound, ld: ldb) : WeightBlock(b.floats! + j.lowerBound)
            let cij = c + i.lowerBound * ldc + j.lowerBound
            let status = ck_sgemm_typed(transA ? 1 : 0, transB ? 1 : 0, i.count, j.count, k, alpha, ai.base, lda, ai.ckType,
                                        bj.base, ldb, bj.ckType, beta, cij, ldc)
            precondition(status != -2, "ck_sgemm_typed cannot read a \(ai.ckType)/\(bj.ckType) product")
            guard status != 0, !i.isEmpty, !j.isEmpty else { return }
            // Out of memory for a packing buffer (a 5 MB mapping): OpenBLAS needs none (stored
            // weights are converted for it), but its results may differ in the last bits.
            func fp32(_ x: WeightBlock, rows: Int, ld: Int, _ body: (UnsafePointer<Float>, Int) -> Void) {
                if let f = x.floats { return body(f, ld) }
                x.converted(rows: rows, length: k, ld: ld).withUnsafeBufferPointer { body($0.baseAddress!, k) }
            }
            fp32(ai, rows: i.count, ld: lda) { fa, la in
                fp32(bj, rows: j.count, ld: ldb) { fb, lb in
                    openblas(transA, transB, i.count, j.count, k, alpha, fa, la, fb, lb, beta, cij, ldc)
                }
            }
        }
        let alongM = m >= n
        let unit = alongM ? 14 : 32
        let units = ((alongM ? m : n) + unit - 1) / unit
        parallelRanges(units, threads: threads) { r in
            let cut = min(r.lowerBound * unit, alongM ? m : n)..<min(r.upperBound * unit, alongM ? m : n)
            if alongM { call(cut, 0..<n) } else { call(0..<m, cut) }
        }
    }
}
