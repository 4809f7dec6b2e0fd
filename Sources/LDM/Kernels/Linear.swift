/// y [rows, out] = x [rows, in] * W^T + bias, with W [out, in] (PyTorch's Linear layout); a
/// block of weight rows gives a block of output columns.
public func linear(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, weight: WeightRows, bias: [Float]?,
                   outFeatures: Int, into y: UnsafeMutablePointer<Float>, ws: Workspace) throws {
    precondition(weight.rows == outFeatures && weight.rowLength == inFeatures, "linear weight \(weight.rows)x\(weight.rowLength)")
    try weight.forEachBlock { o0, no, wo in
        BLAS.gemm(transB: true, m: rows, n: no, k: inFeatures, a: x, lda: inFeatures, b: wo, ldb: inFeatures,
                  c: y + o0, ldc: outFeatures, threads: ws.threads)
    }
    if let bias { addRowBias(y, bias, rows: rows, threads: ws.threads) }
}

/// y[r, :] += bias for every row r.
func addRowBias(_ y: UnsafeMutablePointer<Float>, _ bias: [Float], rows: Int, threads: Int) {
    bias.withUnsafeBufferPointer { b in
        let n = b.count
        parallelRanges(rows, threads: threads) { rs in
            for r in rs {
                let row = y + r * n
                for j in 0..<n { row[j] += b[j] }
            }
        }
    }
}
