import CKernels

/// Winograd F(2x2, 3x3) for 3x3 convolutions with stride 1 and padding 1: per 2x2 output
/// tile, 16 products instead of 36, as 16 GEMMs U[e] (K x C) * V[e] (C x tiles). Batch items'
/// tiles share the GEMMs, so deep, small levels still multiply wide matrices. Work is blocked
/// over output channels and tiles so scratch stays bounded; blocks depend on shapes only, so
/// results do not depend on the thread count.
enum Winograd {
    /// Floats per transformed block (U, V or M), about 24 MB.
    static let budget = 6 << 20

    /// Worth it where there are enough tiles to keep the GEMMs wide. (F(4x4, 3x3) was measured
    /// too: its scalar 6x6 transforms cost more than the products it saves.)
    static func applies(_ g: ConvGeometry, channels: Int, tiles: Int) -> Bool {
        g.kernel == 3 && g.stride == 1 && g.padTop == 1 && g.padLeft == 1 && g.padBottom == 1 && g.padRight == 1
            && tiles >= 64 && channels >= 16
    }

    static func conv(_ x: Tensor, weight: UnsafePointer<Float>, bias: [Float]?, outChannels k: Int, ws: Workspace,
                     budget: Int = budget) throws -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let y = try Tensor([n, k, h, w])
        let tiles = n * ((h + 1) / 2) * ((w + 1) / 2)
        let kBlock = max(1, min(k, budget / (16 * c)))
        let qBlock = max(1, min(tiles, budget / (16 * max(c, kBlock))))
        let u = try ws.scratch.floats(.winograd, 16 * kBlock * c)
        let v = try ws.scratch.floats(.columns, 16 * c * qBlock)
        let m = try ws.scratch.floats(.work, 16 * kBlock * qBlock)
        func run(_ biasPtr: UnsafePointer<Float>?) throws {
            var k0 = 0
            while k0 < k {
                let nk = min(kBlock, k - k0)
                parallelRanges(nk, threads: ws.threads) { r in
                    ck_wino_weights(weight, c, k0 + r.lowerBound, r.count, nk, u + r.lowerBound * c)
                }
                try ws.checkCancelled()
                var q0 = 0
                while q0 < tiles {
                    let nq = min(qBlock, tiles - q0)
                    parallelRanges(c, threads: ws.threads) { r in
                        ck_wino_input(x.data, c, h, w, r.lowerBound, r.count, q0, nq, v)
                    }
                    for e in 0..<16 {
                        BLAS.gemm(m: nk, n: nq, k: c, a: u + e * nk * c, lda: c, b: v + e * c * nq, ldb: nq,
                                  c: m + e * nk * nq, ldc: nq, threads: ws.threads)
                    }
                    parallelRanges(nk, threads: ws.threads) { r in
                        ck_wino_output(m, k, h, w, k0, nk, k0 + r.lowerBound, r.count, q0, nq, biasPtr, y.data)
                    }
                    q0 += nq
                }
                k0 += nk
            }
        }
        if let bias { try bias.withUnsafeBufferPointer { try run($0.baseAddress) } } else { try run(nil) }
        return y
    }
}
