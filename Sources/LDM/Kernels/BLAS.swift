import CBLAS

/// The one door to OpenBLAS. Matrices are row-major.
///
/// OpenBLAS's own threading changes results with the thread count (its partitions move), so
/// it always runs single-threaded here: a product is cut into tiles whose layout depends only
/// on its shape, and the tiles are spread over our threads. Each output element is then
/// computed by the same call whatever the thread count, which makes runs bitwise reproducible.
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

    /// C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C.
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, threads: Int) {
        _ = ready
        func call(_ m: Int, _ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
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
}
